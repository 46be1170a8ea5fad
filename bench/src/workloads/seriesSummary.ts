/**
 * What the console charts' summary costs (store/SeriesSummarizer.ts), per
 * finished job summarized: a catch-up of the whole summary of a filled table
 * by `summarizeSeries` steps (as a runner or a kicked chart read runs them),
 * with the steps, their largest duration, the wall time and the database
 * backends' CPU (from /proc: only when PostgreSQL runs on this machine); then
 * the same catch-up again with each summarizing statement under
 * `EXPLAIN (ANALYZE, WAL)`, for the WAL it writes (per statement, so other
 * databases on the server do not count).
 *
 * The table is one `console.ts` kept: fill it first with
 *   CONSOLE_SCHEMA=bench_chart CONSOLE_CALLS=none CONSOLE_BULK=0 node bench/src/workloads/console.ts
 * then
 *   DATABASE_URL=postgres://… SUMMARY_SCHEMA=bench_chart node bench/src/workloads/seriesSummary.ts
 *
 * It empties that schema's summary (twice) and leaves it whole.
 */
import { Effect, Exit, Scope } from "effect"
import { KyselyStore } from "@jobtrack/adapter-kysely"
import { Kysely, PostgresDialect, sql } from "kysely"
import pg from "pg"
import { backendsCpuMs, backendsCpuSince } from "../procCpu.ts"

const url = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test"
const schema = process.env.SUMMARY_SCHEMA ?? "bench_chart"
const chunkJobs = Number(process.env.SUMMARY_CHUNK ?? 50_000)

const main = async () => {
  const captured: Array<{ sql: string; parameters: ReadonlyArray<unknown> }> = []
  const db = new Kysely<unknown>({
    dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: 2 }) }),
    log: (e) => {
      if (e.level === "query" && /insert into .*series_rollup/s.test(e.query.sql) && /with src as/.test(e.query.sql)) {
        captured.push({ sql: e.query.sql, parameters: e.query.parameters })
      }
    }
  })
  const admin = new pg.Client({ connectionString: url })
  await admin.connect()
  const reset = () => sql`truncate ${sql.id(schema, "series_rollup")}, ${sql.id(schema, "series_rolled")}`.execute(db)
  const scope = Effect.runSync(Scope.make())
  const store = await Effect.runPromise(
    Scope.provide(KyselyStore.make({ db, schema, seriesSummary: { background: false, chunkJobs } }), scope)
  )
  await reset()
  const cpu0 = await backendsCpuMs(admin)
  const t0 = performance.now()
  let jobs = 0
  let steps = 0
  let longest = 0
  while (true) {
    const s = performance.now()
    const step = await Effect.runPromise(store.summarizeSeries!())
    longest = Math.max(longest, performance.now() - s)
    jobs += step.jobs
    steps++
    if (!step.more) break
  }
  const wall = performance.now() - t0
  const dbCpu = backendsCpuSince(cpu0, await backendsCpuMs(admin))
  const rows = Number((await sql<{ n: string }>`select count(*) as n from ${sql.id(schema, "series_rollup")}`.execute(db)).rows[0]!.n)
  // the same statements again, each under EXPLAIN (ANALYZE, WAL): the WAL the summary writes
  await reset()
  let wal = 0
  for (const q of captured) {
    const r = await admin.query<{ "QUERY PLAN": Array<{ Plan: { "WAL Bytes"?: number } }> }>(
      `explain (analyze, wal, format json) ${q.sql}`,
      q.parameters as Array<unknown>
    )
    wal += r.rows[0]!["QUERY PLAN"][0]!.Plan["WAL Bytes"] ?? 0
  }
  const total = Number((await sql<{ n: string }>`select count(*) as n from ${sql.id(schema, "series_rollup")}`.execute(db)).rows[0]!.n)
  console.log(JSON.stringify({
    workload: "seriesSummary",
    schema,
    chunk_jobs: chunkJobs,
    jobs,
    steps,
    wall_s: Math.round(wall / 100) / 10,
    longest_step_ms: Math.round(longest),
    db_cpu_us_per_job: jobs ? Math.round((dbCpu * 1000) / jobs * 10) / 10 : null,
    summary_rows: rows,
    wal_bytes_per_job: jobs ? Math.round(wal / jobs) : null,
    replayed_rows: total,
    load: (await import("node:os")).loadavg().map((l) => Math.round(l * 100) / 100)
  }))
  await Effect.runPromise(Scope.close(scope, Exit.void))
  await admin.end()
  await db.destroy()
}

await main()
