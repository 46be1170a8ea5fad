/**
 * W2 with history (issue 13, item 1): drain a backlog of N no-op jobs
 * (concurrency 10) while H finished jobs are already in the system's tables,
 * loaded with one `generate_series` INSERT per million rows, the statistics
 * NOT refreshed after loading them or the backlog (the reset before the
 * workload analyzed an empty table): what a queue with a year of history sees
 * between two autovacuum runs.
 *
 * Sizes: BENCH_HISTORY (comma-separated, default "1000000"); add 10,000,000
 * with BENCH_HISTORY=1000000,10000000 when there is time (the load takes
 * minutes per system). Systems: jobtrack (its jobs table) and pg-boss (its job
 * table, state completed). graphile-worker deletes a job when it completes, so
 * it keeps no history: its figure is the empty-table one and is not repeated.
 */
import pg from "pg"
import type { System } from "../systems.ts"

export const historySizes: ReadonlyArray<number> = (process.env.BENCH_HISTORY ?? "1000000")
  .split(",")
  .map((x) => Number(x.trim()))
  .filter((n) => Number.isFinite(n) && n > 0)

export const historyMetric = (size: number): string =>
  `process no-op jobs with ${size.toLocaleString("en")} finished in the table (jobs/s)`

/** The metrics this module records, for main's table ("higher" is better). */
export const historyMetrics: Array<[string, "higher" | "lower"]> = historySizes.map((h) => [historyMetric(h), "higher"])

const chunk = 1_000_000

/** Insert `count` finished no-op jobs into a jobtrack jobs table (a year ago, 10 ms apart). */
export const loadFinishedJobtrack = (db: pg.Pool, table: string, from: number, count: number): Promise<unknown> =>
  db.query(`
    insert into ${table} (id, type, queue, payload, result, status, progress, attempts, max_attempts,
      run_at, token, created_at, started_at, completed_at, updated_at)
    select gen_random_uuid(), 'noop', 'default', jsonb_build_object('i', g), 'null'::jsonb, 'completed', 100, 1, 1,
      t, 1, t, t, t + interval '5 milliseconds', t + interval '5 milliseconds'
    from generate_series($1::bigint, $2::bigint) g, lateral (select now() - interval '365 days' + g * interval '10 milliseconds' as t) x`,
    [from, from + count - 1])

/** Per system: insert `count` finished jobs (a million rows per statement). */
const loaders: Record<string, (db: pg.Pool, from: number, count: number) => Promise<unknown>> = {
  jobtrack: (db, from, count) => loadFinishedJobtrack(db, "bench_jobtrack.jobs", from, count),
  "pg-boss": (db, from, count) =>
    db.query(`
      insert into bench_pgboss.job (name, data, state, retry_limit, created_on, started_on, completed_on, keep_until)
      select 'noop', jsonb_build_object('i', g), 'completed', 0, t, t, t + interval '5 milliseconds', now() + interval '30 days'
      from generate_series($1::bigint, $2::bigint) g, lateral (select now() - interval '365 days' + g * interval '10 milliseconds' as t) x`,
      [from, from + count - 1])
}

/**
 * The workload: for each history size, a backlog of `n` jobs drained with
 * history present. `record(system, metric, value)` is main's.
 */
export const drainWithHistory = (options: {
  readonly url: string
  readonly n: number
  readonly record: (system: string, metric: string, value: number | undefined) => void
}) =>
async (s: System): Promise<void> => {
  const load = loaders[s.name]
  if (!load) return
  const db = new pg.Pool({ connectionString: options.url, max: 1 })
  try {
    for (const size of historySizes) {
      await s.reset()
      for (let from = 1; from <= size; from += chunk) await load(db, from, Math.min(chunk, size - from + 1))
      for (let i = 0; i < options.n; i += 1000) await s.enqueueBatch(i, Math.min(1000, options.n - i))
      let seen = 0
      let done!: () => void
      const all = new Promise<void>((r) => (done = r))
      const start = performance.now()
      await s.startWorkers(10, () => {
        if (++seen === options.n) done()
      })
      await all
      const secs = (performance.now() - start) / 1000
      await s.stopWorkers()
      options.record(s.name, historyMetric(size), options.n / secs)
    }
  } finally {
    await db.end()
  }
}
