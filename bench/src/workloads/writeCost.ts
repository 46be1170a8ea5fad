/**
 * What one job costs the database to write, statement by statement, per
 * layout of the jobs table: WAL bytes and execution time of the batch insert
 * (the store's statement, batches of 1,000), the claims (`claim()`, 10 at a
 * time) and the completions (the completion UPDATE, 10 at a time), and the
 * time in each trigger, all from `EXPLAIN (ANALYZE, WAL, FORMAT JSON)` of the
 * statements themselves. WAL counted this way is the statement's own (not
 * the server's, which other databases add to), so it does not depend on the
 * machine's load; times do. Each round truncates the table and checkpoints
 * before each phase (so each phase pays its full-page images, as after any
 * checkpoint), the layouts taking turns; the lowest WAL and time of the
 * rounds are printed (another database's checkpoint during a phase only adds
 * full-page images).
 *
 *   cd bench && DATABASE_URL=postgres://… ../node_modules/.bin/node src/workloads/writeCost.ts
 *   WRITE_N=10000 WRITE_ROUNDS=3
 *   WRITE_LAYOUTS=current,0018,bare     which layouts (default: all of them)
 *   WRITE_LAYOUTS=current,0028          what migration 0029's index costs the writes
 *   WRITE_EACH_INDEX=1                  also each index of the current layout dropped alone
 *
 * Layouts, all on schemas migrated by this build: `current` (every
 * migration), `0024` (0012's index of every job's status instead of 0025's
 * of those off the usual path), `settled` (0021's index without the running
 * jobs, so that a claim writes no console index; not adopted) and `0024
 * settled` (both), `0018` (the table as migration 0018 left it: its two
 * console indexes instead of 0021's one, 0012's status index, and 0001's
 * notify trigger instead of 0022's), `0018 indexes` and `row triggers` (one
 * of the two), `bare` (no index only the console reads), `0028` (without
 * 0029's `jobs_claim_limited`).
 */
import pg from "pg"
import { jobtrack } from "../systems.ts"

const url = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test"
const N = Number(process.env.WRITE_N ?? 10_000)
const ROUNDS = Number(process.env.WRITE_ROUNDS ?? 3)

const consoleOnly = ["jobs_admin_off_path", "jobs_admin_finished", "jobs_admin_error_trgm", "jobs_admin_queue_type_created"]

/** 0012's index of every job's status instead of 0025's of those off the usual path. */
const indexes0024 = (s: string) => `
    drop index ${s}.jobs_admin_off_path;
    create index jobs_admin_status_created on ${s}.jobs (status, created_at, id) include (queue, type, owner);`

/** 0021's index without the running jobs (a claim writes no console index; not adopted, migration 0025). */
const settled = (s: string) => `
    drop index ${s}.jobs_admin_queue_type_created;
    create index jobs_admin_queue_type_settled on ${s}.jobs
      (queue collate "C", type collate "C", status, created_at, id) include (owner) where status <> 'processing';`

/** 0018's two console indexes instead of 0021's one. */
const indexes0018 = (s: string) => `
    drop index if exists ${s}.jobs_admin_queue_type_created;
    drop index if exists ${s}.jobs_admin_off_path;
    create index if not exists jobs_admin_status_created on ${s}.jobs (status, created_at, id) include (queue, type, owner);
    create index jobs_admin_type_created on ${s}.jobs (type, status, created_at, id) include (queue, owner);
    create index jobs_admin_queue_created on ${s}.jobs (queue, status, created_at, id) include (type, owner);`

/** 0001's row trigger instead of 0022's notify triggers. */
const rowTriggers = (s: string) => `
    drop trigger jobs_notify_always on ${s}.jobs;
    drop trigger jobs_notify_watched on ${s}.jobs;
    drop trigger jobs_notify_deleted on ${s}.jobs;
    create trigger jobs_notify_row after update or delete on ${s}.jobs for each row execute function ${s}.notify_row();`

const layouts: Record<string, (s: string) => string> = {
  current: () => "",
  "0024": indexes0024,
  "0024 settled": (s) => indexes0024(s) + settled(s),
  settled,
  "0018": (s) => indexes0018(s) + rowTriggers(s),
  "0018 indexes": indexes0018,
  "row triggers": rowTriggers,
  bare: (s) => consoleOnly.map((i) => `drop index if exists ${s}.${i};`).join("\n"),
  /** Before migration 0029: no index of the claimable jobs of limited groups (the view's group probe). */
  "0028": (s) => `drop index ${s}.jobs_claim_limited;`
}

interface Plan {
  readonly "Execution Time": number
  readonly Plan: { readonly "WAL Bytes"?: number; readonly "WAL Records"?: number; readonly "WAL FPI"?: number }
  readonly Triggers?: ReadonlyArray<{ readonly "Trigger Name": string; readonly Time: number; readonly Calls: number }>
}

const main = async () => {
  const admin = new pg.Client({ connectionString: url })
  await admin.connect()
  const names = (process.env.WRITE_LAYOUTS?.split(",") ?? Object.keys(layouts)).filter((n) => n in layouts)
  const all: Array<[string, (s: string) => string]> = names.map((n) => [n, layouts[n]!])
  if (process.env.WRITE_EACH_INDEX === "1") {
    const probe = await jobtrack(url, "bench_wc_probe")
    const idx = await admin.query(`select indexrelid::regclass::text as name from pg_index
      where indrelid = 'bench_wc_probe.jobs'::regclass and not indisprimary order by 1`)
    await probe.close()
    await admin.query("drop schema bench_wc_probe cascade")
    for (const { name } of idx.rows as Array<{ name: string }>) {
      const bare = name.replace(/^.*\./, "")
      all.push([`without ${bare}`, (s) => `drop index ${s}.${bare};`])
    }
  }
  const schemas: Array<{ label: string; schema: string; close: () => Promise<void> }> = []
  for (const [i, [label, ddl]] of all.entries()) {
    const schema = `bench_wc_${i}`
    const sys = await jobtrack(url, schema)
    await admin.query(ddl(schema))
    schemas.push({ label, schema, close: sys.close })
  }
  const explain = async (statement: string, params: Array<unknown> = []) =>
    ((await admin.query(`explain (analyze, wal, format json) ${statement}`, params)).rows[0]["QUERY PLAN"][0]) as Plan
  type Phase = { wal: number; fpi: number; ms: number; triggers: Record<string, number> }
  const results = new Map<string, Array<Record<string, Phase>>>()
  for (let round = 1; round <= ROUNDS; round++) {
    const order = schemas.map((_, i) => schemas[(i + round) % schemas.length]!)
    for (const { label, schema } of order) {
      await admin.query(`truncate ${schema}.jobs cascade`)
      await admin.query(`vacuum analyze ${schema}.jobs`)
      const phases: Record<string, Phase> = {}
      const add = (phase: string, p: Plan) => {
        const x = phases[phase] ?? { wal: 0, fpi: 0, ms: 0, triggers: {} }
        x.wal += p.Plan["WAL Bytes"] ?? 0
        x.fpi += p.Plan["WAL FPI"] ?? 0
        x.ms += p["Execution Time"]
        for (const t of p.Triggers ?? []) x.triggers[t["Trigger Name"]] = (x.triggers[t["Trigger Name"]] ?? 0) + t.Time
        phases[phase] = x
      }
      await admin.query("checkpoint")
      const at = new Date().toISOString()
      for (let i = 0; i < N; i += 1000) {
        const batch = JSON.stringify(Array.from({ length: Math.min(1000, N - i) }, (_, k) => ({
          id: crypto.randomUUID(), type: "noop", queue: "default", payload: { i: i + k }, max_attempts: 1, priority: 0,
          run_at: at, owner: null, key: null, group_key: null, group_limit: null, traceparent: null
        })))
        add("insert", await explain(`
          insert into ${schema}.jobs (id, type, queue, payload, max_attempts, priority, run_at, owner, key,
            group_key, group_limit, traceparent, status, created_at, updated_at)
          select x.id, x.type, x.queue, x.payload, x.max_attempts, x.priority, x.run_at, x.owner, x.key,
            x.group_key, x.group_limit, x.traceparent, 'pending', $2::timestamptz, $2::timestamptz
          from jsonb_to_recordset($1::jsonb)
            as x(id uuid, type text, queue text, payload jsonb, max_attempts integer, priority integer,
              run_at timestamptz, owner text, key text, group_key text, group_limit integer, traceparent text)`, [batch, at]))
      }
      await admin.query("checkpoint")
      for (let i = 0; i < N; i += 10) {
        add("claim", await explain(`select id from ${schema}.claim(array['default'], array['noop'], 'w', 10, 600000, now())`))
        // complete the ten just claimed (the earlier ones are completed), as a runner would
        const done = (await admin.query(`select id, token from ${schema}.jobs where status = 'processing'`)).rows
        add("complete", await explain(`
          update ${schema}.jobs j set status = 'completed', result = v.result, progress = 100,
            error_message = null, locked_by = null, locked_until = null, cancel_requested = false,
            completed_at = now(), updated_at = now()
          from jsonb_to_recordset($1::jsonb) as v(id uuid, token integer, result jsonb)
          where j.id = v.id and j.token = v.token and j.status = 'processing'`,
          [JSON.stringify(done.map((r: { id: string; token: number }) => ({ id: r.id, token: r.token, result: null })))]))
      }
      const sizes = (await admin.query(`select sum(pg_relation_size(indexrelid))::bigint as b from pg_index where indrelid = $1::regclass`,
        [`${schema}.jobs`])).rows[0].b
      const list = results.get(label) ?? []
      list.push({ ...phases, size: { wal: Number(sizes), fpi: 0, ms: 0, triggers: {} } })
      results.set(label, list)
    }
    process.stdout.write(`round ${round} done\n`)
  }
  console.log(`\nper job, N = ${N}: WAL bytes (lowest of ${ROUNDS} rounds: others' checkpoints only add full-page images; FPI = their count), ms per 1,000 jobs (lowest round), trigger ms per 1,000 jobs (lowest round)`)
  for (const [label, rounds] of results) {
    const row: Record<string, unknown> = { layout: label, index_kb_after: Math.round(rounds[0]!.size!.wal / 1024) }
    for (const phase of ["insert", "claim", "complete"]) {
      row[`${phase}_wal`] = Math.round(Math.min(...rounds.map((r) => r[phase]!.wal)) / N)
      row[`${phase}_fpi`] = Math.min(...rounds.map((r) => r[phase]!.fpi))
      row[`${phase}_ms`] = Number((Math.min(...rounds.map((r) => r[phase]!.ms)) * 1000 / N).toFixed(1))
      const trig = Object.keys(rounds[0]![phase]!.triggers)
      if (trig.length > 0) {
        row[`${phase}_triggers`] = Object.fromEntries(trig.map((t) => [t, Number((Math.min(...rounds.map((r) => r[phase]!.triggers[t] ?? 0)) * 1000 / N).toFixed(2))]))
      }
    }
    row.total_wal = (row.insert_wal as number) + (row.claim_wal as number) + (row.complete_wal as number)
    console.log(JSON.stringify(row))
  }
  for (const s of schemas) {
    await s.close()
    await admin.query(`drop schema ${s.schema} cascade`)
  }
  await admin.end()
  process.exit(0)
}

await main()
