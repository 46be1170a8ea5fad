/**
 * pnpm bench: the same workloads against jobtrack, pg-boss and graphile-worker
 * on the same PostgreSQL in one run, with raw `pg` as the floor (a minimal
 * queue table; its workers do the least a durable queue must: see `rawPg`).
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test pnpm bench     (about 7 minutes on an idle 2-core machine)
 *   BENCH_N=2000 pnpm bench        (a quicker, smaller run)
 *   BENCH_ONLY=history BENCH_HISTORY=1000000,10000000 pnpm bench   (one workload; see workloads/)
 *   BENCH_SKIP=history,processes,sse,position pnpm bench   (without the slow parts: about 3-4 minutes)
 *
 * Workloads (names for BENCH_ONLY / BENCH_SKIP): enqueue, batches, process,
 * latency, progress/get, processes, history, position, sse.
 * - process (W2): BENCH_PROCESS_ROUNDS (default 5) interleaved rounds, each
 *   every system in turn, the order rotating by one each round, after one
 *   unrecorded warm-up drain each; the table has the median of the rounds and
 *   the best (labelled), and the log each round's figures and ratios.
 * - processes: W2 with 1, 2 and 4 worker processes per system
 *   (workloads/scaleOut.ts; SCALE_OUT_PROCESSES, SCALE_OUT_POOL).
 * - sse: jobtrack only, once, after the rounds, in a database of its own
 *   that it creates and drops (`<database>_sse`, or BENCH_SSE_DATABASE_URL);
 *   workloads/sse.ts.
 * - the others: BENCH_ROUNDS (default 2) rounds, systems taking turns in an
 *   order that rotates each round, the better of the rounds kept.
 */
import { cpus, loadavg, totalmem } from "node:os"
import pg from "pg"
import { drainNoOp, graphileWorker, jobtrack, pgBoss, rawPg } from "./systems.ts"
import type { System } from "./systems.ts"
import { median } from "./workloads/fleet.ts"
import { drainWithHistory, historyMetrics } from "./workloads/history.ts"
import { positionMetrics, viewAtDepth } from "./workloads/queuePosition.ts"
import { drainWithProcesses, processesMetrics, scaling, scalingMetric } from "./workloads/scaleOut.ts"
import { measureSse } from "./workloads/sse.ts"

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

const PROCESS_ROUNDS = Number(process.env.BENCH_PROCESS_ROUNDS ?? 5)
const processMedian = `process no-op jobs, concurrency 10, median of ${PROCESS_ROUNDS} rounds (jobs/s)`
const processBest = `process no-op jobs, concurrency 10, best of ${PROCESS_ROUNDS} rounds (jobs/s)`

/** `xs` turned left by `k`: round k's order of the systems. */
const rotate = <A>(xs: ReadonlyArray<A>, k: number): Array<A> => [...xs.slice(k % xs.length), ...xs.slice(0, k % xs.length)]

/**
 * W2, interleaved: one unrecorded warm-up drain per system, then
 * `PROCESS_ROUNDS` rounds, each every system in turn (the order rotating),
 * each drain after a reset and a checkpoint. Records the median and the best.
 */
const processRounds = async (systems: ReadonlyArray<System>, admin: pg.Client) => {
  for (const s of systems) {
    process.stdout.write(`process: warm-up ${s.name}…\n`)
    await drainNoOp(s, Math.max(1000, Math.round(N / 10)))
  }
  const perS = new Map<string, Array<number>>(systems.map((s) => [s.name, []]))
  for (let round = 0; round < PROCESS_ROUNDS; round++) {
    const figures: Array<string> = []
    for (const s of rotate(systems, round)) {
      await s.reset()
      await admin.query("checkpoint")
      const { perS: x } = await drainNoOp(s, N)
      perS.get(s.name)!.push(x)
      figures.push(`${s.name} ${Math.round(x).toLocaleString("en")}`)
    }
    const last = (name: string) => perS.get(name)?.at(-1)
    const vs = (other: string) => `${(last("jobtrack")! / last(other)!).toFixed(2)}×`
    process.stdout.write(
      `process round ${round + 1}: ${figures.join(", ")} jobs/s; jobtrack ÷ pg-boss ${vs("pg-boss")}, ÷ graphile-worker ${
        vs("graphile-worker")
      }, ÷ raw pg ${vs("raw pg")}\n`
    )
  }
  for (const [name, xs] of perS) {
    record(name, processMedian, median(xs))
    record(name, processBest, Math.max(...xs))
  }
}

/** SSE (jobtrack only), in a database of its own: created, measured, dropped. */
const sseWorkload = async (admin: pg.Client) => {
  let sseUrl = process.env.BENCH_SSE_DATABASE_URL
  let created: string | undefined
  if (!sseUrl) {
    const u = new URL(url)
    created = `${u.pathname.slice(1) || "postgres"}_sse`
    await admin.query(`drop database if exists "${created}"`)
    await admin.query(`create database "${created}"`)
    u.pathname = `/${created}`
    sseUrl = u.toString()
  }
  try {
    process.stdout.write(`sse: ${SSE_CLIENTS} streams on ${created ?? "BENCH_SSE_DATABASE_URL"}…\n`)
    const f = await measureSse({
      url: sseUrl,
      clients: SSE_CLIENTS,
      clientProcesses: Number(process.env.SSE_CLIENT_PROCESSES ?? 2),
      baseline: false,
      log: (line) => process.stdout.write(`sse: ${line}\n`)
    })
    record("jobtrack", sseMetrics[0]![0], f.idleQueriesPerS)
    record("jobtrack", sseMetrics[1]![0], f.idleXactPerS)
    record("jobtrack", sseMetrics[2]![0], f.allClientsP50Ms)
    record("jobtrack", sseMetrics[3]![0], f.allClientsP99Ms)
  } finally {
    if (created) await admin.query(`drop database if exists "${created}"`)
  }
}
const SSE_CLIENTS = Number(process.env.SSE_CLIENTS ?? 500)
const sseMetrics: Array<[string, "higher" | "lower"]> = [
  [`SSE: server queries/s with ${SSE_CLIENTS} idle streams`, "lower"],
  [`SSE: database transactions/s with ${SSE_CLIENTS} idle streams (incl. autovacuum)`, "lower"],
  [`SSE: one change → all ${SSE_CLIENTS} clients p50 (ms)`, "lower"],
  [`SSE: one change → all ${SSE_CLIENTS} clients p99 (ms)`, "lower"]
]

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
  [processMedian, "higher"],
  [processBest, "higher"],
  ...processesMetrics,
  ["enqueue→start p50 (ms)", "lower"],
  ["enqueue→start p95 (ms)", "lower"],
  ["enqueue→start p99 (ms)", "lower"],
  ["progress updates, concurrency 10 (updates/s)", "higher"],
  ["get by id p50 (ms)", "lower"],
  ["get by id p99 (ms)", "lower"],
  ["view with queue position p50 (ms)", "lower"],
  ["view with queue position p99 (ms)", "lower"],
  ...historyMetrics,
  ...positionMetrics,
  ...sseMetrics
]

const fmt = (v: number | undefined) => (v === undefined ? "n/a" : v >= 100 ? Math.round(v).toLocaleString("en") : v.toFixed(2))
/** How many times better jobtrack is than `other` (>1: jobtrack better). */
const ratio = (mine: number | undefined, other: number | undefined, better: "higher" | "lower") =>
  mine === undefined || other === undefined ? "n/a" : `${(better === "higher" ? mine / other : other / mine).toFixed(2)}×`

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2)
// BENCH_ONLY=history,position: only these workloads (a quick check of one); BENCH_SKIP=sse,…: all but these
const only = process.env.BENCH_ONLY?.split(",")
const skip = process.env.BENCH_SKIP?.split(",") ?? []
const wanted = (name: string) => (!only || only.includes(name)) && !skip.includes(name)

/** Keep the better of the rounds (noise on a shared 2-core machine only ever slows a run down). */
const best = (system: string, metric: string, value: number | undefined, better: "higher" | "lower") => {
  const old = results.get(system)?.[metric]
  if (value === undefined || old === undefined) return record(system, metric, value ?? old)
  record(system, metric, better === "higher" ? Math.max(old, value) : Math.min(old, value))
}

/** Seconds each workload took (all its rounds and systems), for the closing line. */
const spent = new Map<string, number>()
const timedWorkload = async (name: string, f: () => Promise<void>) => {
  const t0 = performance.now()
  try {
    await f()
  } finally {
    spent.set(name, (spent.get(name) ?? 0) + (performance.now() - t0) / 1000)
  }
}

const main = async () => {
  const started = performance.now()
  const admin = new pg.Client({ connectionString: url })
  await admin.connect()
  const version = (await admin.query("show server_version")).rows[0].server_version
  console.log(
    `jobtrack benchmark — N=${N}, W2 median of ${PROCESS_ROUNDS} interleaved rounds, other workloads best of ${ROUNDS}, PostgreSQL ${version}, Node ${process.version}, ${
      cpus().length
    } × ${cpus()[0]?.model}, ${Math.round(totalmem() / 2 ** 30)} GiB, load average ${loadavg().map((x) => x.toFixed(1)).join(" ")}\n`
  )
  const systems: Array<System> = []
  for (const make of [jobtrack, pgBoss, graphileWorker, rawPg]) systems.push(await make(url))
  if (wanted("process")) await timedWorkload("process", () => processRounds(systems, admin))
  const workloads = [
    ["enqueue", enqueueOne],
    ["batches", enqueueBatches],
    ["latency", latency],
    ["progress/get", progressAndGet],
    ["processes", drainWithProcesses({ url, n: N, record })],
    ["history", drainWithHistory({ url, n: N, record })],
    ["position", viewAtDepth({ url, record })]
  ] as const
  for (let round = 1; round <= ROUNDS; round++) {
    for (const [name, workload] of workloads.filter(([n]) => wanted(n))) {
      // systems take turns on each workload (in an order that rotates each round), each after a
      // checkpoint, so none inherits another's WAL
      for (const s of rotate(systems, round - 1)) {
        process.stdout.write(`round ${round}: ${name} ${s.name}…\n`)
        await s.reset()
        await admin.query("checkpoint")
        const before = new Map(results)
        results.set(s.name, {})
        await timedWorkload(name, () => workload(s))
        const fresh = results.get(s.name)!
        results.set(s.name, { ...before.get(s.name) })
        for (const [metric, value] of Object.entries(fresh)) {
          best(s.name, metric, value, metrics.find(([m]) => m === metric)?.[1] ?? "higher")
        }
      }
    }
  }
  // the ratio of the kept figures (each the best of its rounds)
  for (const s of systems) record(s.name, scalingMetric, scaling((m) => results.get(s.name)?.[m]))
  for (const s of systems) {
    await s.reset()
    await s.close()
  }
  // alone, with no system's pools open
  if (wanted("sse")) await timedWorkload("sse", () => sseWorkload(admin))
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
  console.log(`Took ${((performance.now() - started) / 60_000).toFixed(1)} min; load average at the end ${loadavg().map((x) => x.toFixed(1)).join(" ")}.`)
  console.log(`Seconds by workload (BENCH_SKIP leaves one out): ${[...spent].map(([name, secs]) => `${name} ${Math.round(secs)}`).join(", ")}.`)
  process.exit(0)
}

await main()
