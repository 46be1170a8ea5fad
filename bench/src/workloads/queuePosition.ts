/**
 * Queue position at depth (issue 13, item 2): a pending job's view (the job
 * and its queue position) against a plain get of the same job, with 10,000
 * and 100,000 pending jobs in the queue (loaded with one `generate_series`
 * INSERT, then ANALYZEd), over jobs spread across the queue (from place 1 to
 * the last). jobtrack only: the peers have no queue position.
 */
import pg from "pg"
import type { System } from "../systems.ts"

const depths = [10_000, 100_000] as const
const CALLS = Number(process.env.BENCH_POSITION_CALLS ?? 1000)

const metric = (what: "get" | "view", depth: number, p: string) =>
  `pending job ${what === "get" ? "get" : "view with position"} at ${depth.toLocaleString("en")} pending ${p} (ms)`

/** The metrics this module records, for main's table. */
export const positionMetrics: Array<[string, "higher" | "lower"]> = depths.flatMap((d) => [
  [metric("get", d, "p50"), "lower"] as [string, "lower"],
  [metric("view", d, "p50"), "lower"] as [string, "lower"],
  [metric("view", d, "p99"), "lower"] as [string, "lower"]
])

const percentile = (xs: Array<number>, p: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(p * s.length))]
}

export const viewAtDepth = (options: {
  readonly url: string
  readonly record: (system: string, metric: string, value: number | undefined) => void
}) =>
async (s: System): Promise<void> => {
  if (s.name !== "jobtrack" || !s.view) return
  const db = new pg.Pool({ connectionString: options.url, max: 1 })
  try {
    for (const depth of depths) {
      await s.reset()
      await db.query(`
        insert into bench_jobtrack.jobs (id, type, queue, payload, status, max_attempts, run_at, created_at, updated_at)
        select gen_random_uuid(), 'noop', 'default', jsonb_build_object('i', g), 'pending', 1,
          now() - interval '1 hour' + g * interval '1 millisecond', now(), now()
        from generate_series(1, $1::int) g`, [depth])
      await db.query(`analyze bench_jobtrack.jobs`)
      // 100 jobs evenly spread over the claim order, from the first place to the last
      const ids = (await db.query<{ id: string }>(`
        select id from (
          select id, row_number() over (order by priority desc, run_at, id) as place from bench_jobtrack.jobs
        ) o where (place - 1) % ($1::int / 100) = 0 order by place`, [depth])).rows.map((r) => r.id)
      const time = async (f: (id: string) => Promise<unknown>) => {
        const samples: Array<number> = []
        for (let k = 0; k < CALLS; k++) {
          const t0 = performance.now()
          await f(ids[k % ids.length]!)
          samples.push(performance.now() - t0)
        }
        return samples
      }
      const gets = await time(s.getById)
      const views = await time(s.view)
      options.record(s.name, metric("get", depth, "p50"), percentile(gets, 0.5))
      options.record(s.name, metric("view", depth, "p50"), percentile(views, 0.5))
      options.record(s.name, metric("view", depth, "p99"), percentile(views, 0.99))
    }
  } finally {
    await db.end()
  }
}
