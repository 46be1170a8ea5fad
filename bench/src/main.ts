/**
 * pnpm bench: the same workloads against jobtrack, pg-boss and graphile-worker
 * on the same PostgreSQL in one run, with raw `pg` as the floor (a minimal
 * queue table; its workers do the least a durable queue must: see `rawPg`).
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test pnpm bench
 *   BENCH_N=2000 pnpm bench        (a quicker, smaller run)
 *   BENCH_ONLY=history BENCH_HISTORY=1000000,10000000 pnpm bench   (one workload; see workloads/)
 */
import { cpus, totalmem } from "node:os"
import pg from "pg"
import { drainNoOp, graphileWorker, jobtrack, pgBoss, rawPg } from "./systems.ts"
import type { System } from "./systems.ts"
import { drainWithHistory, historyMetrics } from "./workloads/history.ts"
import { positionMetrics, viewAtDepth } from "./workloads/queuePosition.ts"

const url = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test"
const N = Number(process.env.BENCH_N ?? 10_000)
const LATENCY_SAMPLES = Number(process.env.BENCH_LATENCY_SAMPLES ?? 300)

type Result = Record<string, number | undefined>
const results = new Map<string, Result>()
const record = (system: string, metric: string, value: number | undefined) => {
  const r = results.get(system) ?? {}
  r[metric] = value
  results.set(system, r)
}

const percentile = (xs: Array<number>, p: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]!
}
const timed = async (f: () => Promise<void>) => {
  const start = performance.now()
  await f()
  return (performance.now() - start) / 1000
}
const pool = async <A>(items: Array<A>, concurrency: number, f: (a: A) => Promise<void>) => {
  let next = 0
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < items.length) await f(items[next++]!)
  }))
}

const enqueueOne = async (s: System) => {
  await s.reset()
  const secs = await timed(async () => {
    for (let i = 0; i < N; i++) await s.enqueueOne(i)
  })
  record(s.name, "enqueue one by one (jobs/s)", N / secs)
}

const enqueueBatches = async (s: System) => {
  await s.reset()
  const secs = await timed(async () => {
    for (let i = 0; i < N; i += 1000) await s.enqueueBatch(i, Math.min(1000, N - i))
  })
  record(s.name, "enqueue in batches of 1,000 (jobs/s)", N / secs)
}

const process10 = async (s: System) => {
  record(s.name, "process no-op jobs, concurrency 10 (jobs/s)", (await drainNoOp(s, N)).perS)
}

const latency = async (s: System) => {
  await s.reset()
  let started: ((t: number) => void) | undefined
  await s.startWorkers(10, () => started?.(performance.now()))
  await new Promise((r) => setTimeout(r, 500))
  const samples: Array<number> = []
  for (let k = 0; k < LATENCY_SAMPLES; k++) {
    const at = new Promise<number>((r) => (started = r))
    const t0 = performance.now()
    await s.enqueueOne(k)
    samples.push((await at) - t0)
    await new Promise((r) => setTimeout(r, 5))
  }
  await s.stopWorkers()
  record(s.name, "enqueue→start p50 (ms)", percentile(samples, 0.5))
  record(s.name, "enqueue→start p95 (ms)", percentile(samples, 0.95))
  record(s.name, "enqueue→start p99 (ms)", percentile(samples, 0.99))
}

const progressAndGet = async (s: System) => {
  await s.reset()
  if (s.progress && s.runningJobs) {
    const ids = await s.runningJobs(1000)
    const writes = ids.flatMap((id) => Array.from({ length: 10 }, (_, k) => [id, (k + 1) * 10] as const))
    const secs = await timed(() => pool(writes, 10, ([id, v]) => s.progress!(id, v)))
    record(s.name, "progress updates, concurrency 10 (updates/s)", writes.length / secs)
  }
  await s.reset()
  const ids: Array<string> = []
  for (let i = 0; i < 1000; i++) ids.push(await s.enqueueOne(i))
  const samples: Array<number> = []
  for (let k = 0; k < 2000; k++) {
    const t0 = performance.now()
    await s.getById(ids[k % ids.length]!)
    samples.push(performance.now() - t0)
  }
  record(s.name, "get by id p50 (ms)", percentile(samples, 0.5))
  record(s.name, "get by id p99 (ms)", percentile(samples, 0.99))
  if (s.view) {
    const views: Array<number> = []
    for (let k = 0; k < 2000; k++) {
      const t0 = performance.now()
      await s.view(ids[k % ids.length]!)
      views.push(performance.now() - t0)
    }
    record(s.name, "view with queue position p50 (ms)", percentile(views, 0.5))
    record(s.name, "view with queue position p99 (ms)", percentile(views, 0.99))
  }
}

const metrics: Array<[string, "higher" | "lower"]> = [
  ["enqueue one by one (jobs/s)", "higher"],
  ["enqueue in batches of 1,000 (jobs/s)", "higher"],
  ["process no-op jobs, concurrency 10 (jobs/s)", "higher"],
  ["enqueue→start p50 (ms)", "lower"],
  ["enqueue→start p95 (ms)", "lower"],
  ["enqueue→start p99 (ms)", "lower"],
  ["progress updates, concurrency 10 (updates/s)", "higher"],
  ["get by id p50 (ms)", "lower"],
  ["get by id p99 (ms)", "lower"],
  ["view with queue position p50 (ms)", "lower"],
  ["view with queue position p99 (ms)", "lower"],
  ...historyMetrics,
  ...positionMetrics
]

const fmt = (v: number | undefined) => (v === undefined ? "n/a" : v >= 100 ? Math.round(v).toLocaleString("en") : v.toFixed(2))
/** How many times better jobtrack is than `other` (>1: jobtrack better). */
const ratio = (mine: number | undefined, other: number | undefined, better: "higher" | "lower") =>
  mine === undefined || other === undefined ? "n/a" : `${(better === "higher" ? mine / other : other / mine).toFixed(2)}×`

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2)

/** Keep the better of the rounds (noise on a shared 2-core machine only ever slows a run down). */
const best = (system: string, metric: string, value: number | undefined, better: "higher" | "lower") => {
  const old = results.get(system)?.[metric]
  if (value === undefined || old === undefined) return record(system, metric, value ?? old)
  record(system, metric, better === "higher" ? Math.max(old, value) : Math.min(old, value))
}

const main = async () => {
  const admin = new pg.Client({ connectionString: url })
  await admin.connect()
  const version = (await admin.query("show server_version")).rows[0].server_version
  console.log(`jobtrack benchmark — N=${N}, ${ROUNDS} rounds (best kept), PostgreSQL ${version}, Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model}, ${Math.round(totalmem() / 2 ** 30)} GiB\n`)
  const systems: Array<System> = []
  for (const make of [jobtrack, pgBoss, graphileWorker, rawPg]) systems.push(await make(url))
  const workloads = [
    ["enqueue", enqueueOne],
    ["batches", enqueueBatches],
    ["process", process10],
    ["latency", latency],
    ["progress/get", progressAndGet],
    ["history", drainWithHistory({ url, n: N, record })],
    ["position", viewAtDepth({ url, record })]
  ] as const
  for (let round = 1; round <= ROUNDS; round++) {
    // BENCH_ONLY=history,position: only these workloads (a quick check of one)
    const only = process.env.BENCH_ONLY?.split(",")
    for (const [name, workload] of workloads.filter(([n]) => !only || only.includes(n))) {
      // systems take turns on each workload, each after a checkpoint, so none inherits another's WAL
      for (const s of systems) {
        process.stdout.write(`round ${round}: ${name} ${s.name}…\n`)
        await s.reset()
        await admin.query("checkpoint")
        const before = new Map(results)
        results.set(s.name, {})
        await workload(s)
        const fresh = results.get(s.name)!
        results.set(s.name, { ...before.get(s.name) })
        for (const [metric, value] of Object.entries(fresh)) {
          best(s.name, metric, value, metrics.find(([m]) => m === metric)?.[1] ?? "higher")
        }
      }
    }
  }
  for (const s of systems) {
    await s.reset()
    await s.close()
  }
  await admin.end()
  const names = ["jobtrack", "pg-boss", "graphile-worker", "raw pg"]
  const rows = [
    `| workload | ${names.join(" | ")} | vs pg-boss | vs graphile-worker | vs raw pg |`,
    `| --- | ${names.map(() => "---:").join(" | ")} | ---: | ---: | ---: |`
  ]
  for (const [metric, better] of metrics) {
    const v = (n: string) => results.get(n)?.[metric]
    rows.push(`| ${metric} | ${names.map((n) => fmt(v(n))).join(" | ")} | ${ratio(v("jobtrack"), v("pg-boss"), better)} | ${
      ratio(v("jobtrack"), v("graphile-worker"), better)
    } | ${ratio(v("jobtrack"), v("raw pg"), better)} |`)
  }
  console.log(`\n${rows.join("\n")}\n\nRatios: how many times better jobtrack is (above 1: jobtrack is faster).`)
  process.exit(0)
}

await main()
