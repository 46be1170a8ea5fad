/**
 * What the console's status feed costs (issue 15 "Live", migrations 0013 and
 * 0015): one runner (concurrency 10) draining `FEED_N` no-op jobs on
 * PostgreSQL, in rounds that take turns between four states of the jobs
 * trigger:
 *
 * - `before 0013`: the trigger of migration 0001 (0015 and 0013 migrated down),
 * - `no console`: the latest trigger with no feed registered,
 * - `0013, console open`: 0015 migrated down and a feed registered (a console
 *   list open somewhere), so every claim and completion transaction sends a
 *   coarse notification, which the runner (listening) also receives,
 * - `0015, console open`: the latest trigger and a feed registered: claims and
 *   completions stamp `feed_clock` at most every 250 ms per queue, type and
 *   status, and notify nothing; the bench reads the stamps once a second, as
 *   a console process does.
 *
 * Jobs per second from the insert of the backlog to its last completion, and
 * the medians' ratios to `before 0013` and to `no console`.
 *
 *   DATABASE_URL=postgres://… ../node_modules/.bin/node src/workloads/statusFeed.ts   (from bench/)
 */
import { Effect, Schema } from "effect"
import { JobDefinition, Jobtrack } from "@jobtrack/core"
import { layerPostgres, migrate, migrations } from "@jobtrack/adapter-kysely"
import { Kysely, PostgresDialect, sql } from "kysely"
import pg from "pg"

const url = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test"
const N = Number(process.env.FEED_N ?? 5_000)
const ROUNDS = Number(process.env.FEED_ROUNDS ?? 3)
const feedJobId = "00000000-0000-0000-0000-000000000000"

const noop = JobDefinition.make({ type: "noop", payload: Schema.Struct({}), handler: () => Effect.void })

const main = async () => {
  const schema = `bench_feed_${Math.random().toString(36).slice(2, 8)}`
  const pool = new pg.Pool({ connectionString: url, max: 2 })
  const db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool }) })
  await migrate(db, { schema })
  const feed = migrations(schema)["jobtrack_0013_status_feed"]!
  const clock = migrations(schema)["jobtrack_0015_status_feed_clock"]!
  const jobs = sql.id(schema, "jobs")
  const watches = sql.id(schema, "watches")
  const tracker = Jobtrack.make({
    store: layerPostgres({ connectionString: url, schema, migrate: false, max: 10 }),
    definitions: [noop],
    runner: { concurrency: 10, prune: false }
  })
  await tracker.start()

  const openFeed = async () =>
    void await sql`insert into ${watches} (job_id, watcher, expires_at)
      values (${feedJobId}::uuid, 'bench', now() + interval '1 hour')`.execute(db)
  // the console process's read of the stamps, once a second while a feed is open (0015)
  let reading: ReturnType<typeof setInterval> | undefined
  const readStamps = () => {
    reading = setInterval(() => {
      void sql`select queue, type, status from ${sql.id(schema, "feed_clock")}
        where stamped_at > clock_timestamp() - interval '2 seconds'`.execute(db)
    }, 1000)
  }
  // each mode starts from every migration applied and no feed; `undo` puts that back after its round
  const modes: Record<string, { set: () => Promise<void>; undo: () => Promise<void> }> = {
    "before 0013": {
      set: async () => (await clock.down!(db), await feed.down!(db)),
      undo: async () => (await feed.up(db), await clock.up(db))
    },
    "no console": { set: async () => {}, undo: async () => {} },
    "0013, console open": { set: async () => (await clock.down!(db), await openFeed()), undo: () => clock.up(db) },
    "0015, console open": {
      set: async () => (await openFeed(), readStamps()),
      undo: async () => clearInterval(reading)
    }
  }
  const perMode = new Map<string, Array<number>>()
  for (let round = 1; round <= ROUNDS; round++) {
    // the order turns too (reversed every other round): no mode always runs after the same one
    const order = round % 2 === 1 ? Object.entries(modes) : Object.entries(modes).reverse()
    for (const [mode, { set, undo }] of order) {
      await sql`delete from ${watches}`.execute(db)
      await sql`delete from ${jobs}`.execute(db)
      await set()
      await sql.raw(`vacuum analyze "${schema}".jobs`).execute(db)
      const t0 = performance.now()
      await sql`
        insert into ${jobs} (id, type, queue, payload, status, max_attempts, run_at, created_at, updated_at)
        select gen_random_uuid(), 'noop', 'default', '{}'::jsonb, 'pending', 1, now() - interval '1 second', now(), now()
        from generate_series(1, ${N}::int)`.execute(db)
      while (true) {
        const left = (await sql<{ n: string }>`select count(*) as n from ${jobs} where status <> 'completed'`.execute(db)).rows[0]!.n
        if (Number(left) === 0) break
        await new Promise((r) => setTimeout(r, 20))
      }
      const perS = N / ((performance.now() - t0) / 1000)
      perMode.set(mode, [...(perMode.get(mode) ?? []), perS])
      console.log(JSON.stringify({ round, mode, jobs_per_s: Math.round(perS) }))
      await undo()
    }
  }
  const median = (xs: Array<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
  const base = median(perMode.get("before 0013")!)
  const idle = median(perMode.get("no console")!)
  const ratio = (x: number, y: number) => Math.round((x / y) * 100) / 100
  for (const [mode, xs] of perMode) {
    const m = median(xs)
    console.log(JSON.stringify({ mode, median_jobs_per_s: Math.round(m), vs_before_0013: ratio(m, base), vs_no_console: ratio(m, idle) }))
  }
  await tracker.close()
  await sql.raw(`drop schema "${schema}" cascade`).execute(db)
  await db.destroy()
}

await main()
