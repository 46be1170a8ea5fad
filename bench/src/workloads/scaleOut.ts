/**
 * Scale-out, W2 with several worker processes (issue 13, item 7): a backlog of `n` no-op
 * jobs drained by 1, 2 and 4 real child processes on one PostgreSQL, each
 * running the system's own workers with concurrency 10 (what `pnpm bench`'s
 * "process no-op jobs" runs in one process). Each child opens the system on
 * the parent's schema (`systemsByName`, `attach`), reports ready, and all
 * start together: jobs/s from "go" to the start of the backlog's last job,
 * as reported by the children (start-up is not timed). Then the ratio of 4
 * processes to 1: how the system grows with processes on this machine (on 2
 * cores, CPU-bound no-op jobs cannot grow much; `scaleOutIo.ts` measures the
 * database's share with I/O-bound jobs).
 *
 * In `pnpm bench` (workload `processes`) for every system, N = BENCH_N. Alone
 * (from bench/, after `pnpm build`), one JSON line per figure:
 *
 *   DATABASE_URL=postgres://…/<yours> ../node_modules/.bin/node src/workloads/scaleOut.ts
 *   SCALE_OUT_N=10000 SCALE_OUT_PROCESSES=1,2,4 SCALE_OUT_POOL=8 SCALE_OUT_SYSTEMS=jobtrack,pg-boss,graphile-worker,raw\ pg
 *   SCALE_OUT_WARM=0   jobs each child drains alone, untimed, before the timed drain (its workers
 *                      started and stopped): the children start warm, as long-running workers are
 *                      (cold, each process compiles its per-job path within the timed drain, and
 *                      with 4 processes each drains only N ÷ 4; docs/benchmarks.md "Scale-out
 *                      (session 7)"). The metrics' names say so when set.
 *
 * (Before session 5 this file measured jobtrack alone, counting completions
 * through the store and timing the children's start-up too.)
 */
import { fileURLToPath, pathToFileURL } from "node:url"
import pg from "pg"
import { systemsByName } from "../systems.ts"
import type { System } from "../systems.ts"
import { serveFleetChild, spawnFleet } from "./fleet.ts"

/** Process counts (SCALE_OUT_PROCESSES, default 1,2,4). */
export const processCounts: ReadonlyArray<number> = (process.env.SCALE_OUT_PROCESSES ?? "1,2,4")
  .split(",")
  .map((x) => Number(x.trim()))
  .filter((n) => Number.isInteger(n) && n > 0)

/** Each child's pool (SCALE_OUT_POOL, default 8): 4 processes of 12 would crowd a shared server. */
const POOL = Number(process.env.SCALE_OUT_POOL ?? 8)
const CONCURRENCY = 10
/** Jobs each child drains alone before the timed drain (SCALE_OUT_WARM, default 0: cold children). */
const WARM = Number(process.env.SCALE_OUT_WARM ?? 0)
const warmed = WARM > 0 ? `, each warmed with ${WARM} jobs` : ""

export const processesMetric = (processes: number): string =>
  `process no-op jobs, ${processes} worker process${processes === 1 ? "" : "es"} × concurrency 10${warmed} (jobs/s)`

const first = processCounts[0]!
const last = processCounts.at(-1)!
export const scalingMetric = `${last} processes ÷ ${first}${warmed} (jobs/s ratio)`

/** The ratio of `scalingMetric` from a system's kept figures (`figure(metric)`), when it has both. */
export const scaling = (figure: (metric: string) => number | undefined): number | undefined => {
  const [a, b] = [figure(processesMetric(first)), figure(processesMetric(last))]
  return processCounts.length > 1 && a !== undefined && b !== undefined ? b / a : undefined
}

/** The metrics this module records, for main's table ("higher" is better). */
export const processesMetrics: Array<[string, "higher" | "lower"]> = [
  ...processCounts.map((p) => [processesMetric(p), "higher"] as [string, "higher"]),
  ...(processCounts.length > 1 ? [[scalingMetric, "higher"] as [string, "higher"]] : [])
]

const self = fileURLToPath(import.meta.url)

/**
 * The workload: for each process count, reset, enqueue `n` jobs in batches
 * of 1,000, spawn the children, checkpoint, time the drain. With
 * SCALE_OUT_WARM the children are spawned first and warmed one after the
 * other (each drains its own jobs alone), then the backlog is enqueued.
 * `record` is main's.
 */
export const drainWithProcesses = (options: {
  readonly url: string
  readonly n: number
  readonly record: (system: string, metric: string, value: number | undefined) => void
}) =>
async (s: System): Promise<void> => {
  if (!(s.name in systemsByName)) return
  const admin = new pg.Client({ connectionString: options.url })
  await admin.connect()
  try {
    const perS = new Map<number, number>()
    for (const processes of processCounts) {
      await s.reset()
      const enqueue = async (n: number) => {
        for (let i = 0; i < n; i += 1000) await s.enqueueBatch(i, Math.min(1000, n - i))
      }
      if (WARM === 0) await enqueue(options.n)
      const fleet = await spawnFleet(self, ["child", s.name, options.url], processes)
      try {
        if (WARM > 0) {
          await fleet.warm(WARM, () => enqueue(WARM))
          await enqueue(options.n)
        }
        await admin.query("checkpoint")
        const t0 = performance.now()
        fleet.go()
        await fleet.startedAtLeast(options.n)
        perS.set(processes, options.n / ((performance.now() - t0) / 1000))
      } finally {
        await fleet.stop()
      }
      options.record(s.name, processesMetric(processes), perS.get(processes))
    }
  } finally {
    await admin.end()
  }
}

/** A child: the system's workers on the parent's schema, concurrency 10. */
const child = (name: string, url: string) =>
  serveFleetChild(async () => {
    const system = await systemsByName[name]!(url, { attach: true, max: POOL })
    return {
      start: (onJob) => system.startWorkers(CONCURRENCY, onJob),
      pause: () => system.stopWorkers(),
      stop: async () => {
        await system.stopWorkers()
        await system.close()
      }
    }
  })

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  if (process.argv[2] === "child") {
    await child(process.argv[3]!, process.argv[4]!)
  } else {
    const url = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test"
    const n = Number(process.env.SCALE_OUT_N ?? process.env.BENCH_N ?? 10_000)
    const names = (process.env.SCALE_OUT_SYSTEMS ?? Object.keys(systemsByName).join(",")).split(",")
    for (const name of names) {
      const s = await systemsByName[name]!(url)
      const figures = new Map<string, number | undefined>()
      const print = (metric: string, value: number | undefined) =>
        console.log(JSON.stringify({ system: name, metric, value: Number(value?.toFixed(2)) }))
      try {
        await drainWithProcesses({
          url,
          n,
          record: (_system, metric, value) => (figures.set(metric, value), print(metric, value))
        })(s)
        print(scalingMetric, scaling((m) => figures.get(m)))
      } finally {
        await s.reset()
        await s.close()
      }
    }
  }
}
