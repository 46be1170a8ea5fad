/**
 * What the console's status feed costs (issue 15 "Live", migration 0013): one
 * runner (concurrency 10) draining `FEED_N` no-op jobs on PostgreSQL, in
 * rounds that take turns between three states of the jobs trigger:
 *
 * - `before 0013`: the trigger of migration 0001 (0013 migrated down),
 * - `0013, no console`: the trigger of 0013 with no feed registered,
 * - `0013, console open`: a feed registered (a console list open somewhere),
 *   so every claim and completion transaction sends a coarse notification,
 *   which the runner (listening) also receives.
 *
 * Jobs per second from the insert of the backlog to its last completion.
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
  const jobs = sql.id(schema, "jobs")
  const watches = sql.id(schema, "watches")
  const tracker = Jobtrack.make({
    store: layerPostgres({ connectionString: url, schema, migrate: false, max: 10 }),
    definitions: [noop],
    runner: { concurrency: 10, prune: false }
  })
  await tracker.start()

  // each mode starts from 0013 applied and no feed; "before 0013" migrates it down for its round
  const modes: Record<string, () => Promise<void>> = {
    "before 0013": async () => void await feed.down!(db),
    "0013, no console": async () => {},
    "0013, console open": async () =>
      void await sql`insert into ${watches} (job_id, watcher, expires_at)
        values (${feedJobId}::uuid, 'bench', now() + interval '1 hour')`.execute(db)
  }
  const perMode = new Map<string, Array<number>>()
  for (let round = 1; round <= ROUNDS; round++) {
    for (const [mode, set] of Object.entries(modes)) {
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
      if (mode === "before 0013") await feed.up(db)
    }
  }
  const median = (xs: Array<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
  const base = median(perMode.get("before 0013")!)
  for (const [mode, xs] of perMode) {
    console.log(JSON.stringify({ mode, median_jobs_per_s: Math.round(median(xs)), vs_before_0013: Math.round((median(xs) / base) * 100) / 100 }))
  }
  await tracker.close()
  await sql.raw(`drop schema "${schema}" cascade`).execute(db)
  await db.destroy()
}

await main()
