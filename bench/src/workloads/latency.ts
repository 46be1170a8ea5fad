/**
 * Enqueue→start latency alone: `pnpm bench`'s "latency" workload (one job at
 * a time, 5 ms apart, workers of concurrency 10 waiting; the time from the
 * enqueue call to the handler's start) in rounds, the systems taking turns in
 * an order that rotates each round, each after a reset and a checkpoint. Each
 * round's p50 / p95 / p99 are printed with the garbage collections of this
 * process during it (how many, their time, and how many of the samples, of
 * the 3 slowest (the p99 of 300) and of the 15 slowest (the p95) they fell
 * in: producer and workers share the process, as in `pnpm bench`), then the
 * medians and ranges over the rounds, and jobtrack's ratios to each peer
 * within each round (below 1: jobtrack's latency is lower).
 *
 *   cd bench && DATABASE_URL=... ../node_modules/.bin/node src/workloads/latency.ts
 *   LATENCY_ROUNDS (default 5), LATENCY_SAMPLES (default 300, as pnpm bench),
 *   LATENCY_SYSTEMS (default jobtrack,pg-boss,graphile-worker,raw pg)
 */
import { loadavg } from "node:os"
import { PerformanceObserver } from "node:perf_hooks"
import pg from "pg"
import { systemsByName } from "../systems.ts"
import type { System } from "../systems.ts"
import { median } from "./fleet.ts"

const url = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test"
const ROUNDS = Number(process.env.LATENCY_ROUNDS ?? 5)
const SAMPLES = Number(process.env.LATENCY_SAMPLES ?? 300)
const names = (process.env.LATENCY_SYSTEMS ?? "jobtrack,pg-boss,graphile-worker,raw pg").split(",")

/** The same percentile as `pnpm bench`'s. */
export const percentile = (xs: ReadonlyArray<number>, p: number): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]!
}

/** The garbage collections seen (start, duration in ms), kept while a round runs. */
const gcs: Array<readonly [number, number]> = []
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcs.push([e.startTime, e.duration])
}).observe({ entryTypes: ["gc"] })

/** A sample: its start, its latency (ms) and the GC time (ms) within it. */
interface Sample {
  readonly t0: number
  readonly ms: number
}

/** One system's samples, measured as `pnpm bench`'s latency workload measures them. */
export const enqueueToStart = async (s: System, samples: number): Promise<Array<Sample>> => {
  await s.reset()
  let started: ((t: number) => void) | undefined
  await s.startWorkers(10, () => started?.(performance.now()))
  await new Promise((r) => setTimeout(r, 500))
  const out: Array<Sample> = []
  for (let k = 0; k < samples; k++) {
    const at = new Promise<number>((r) => (started = r))
    const t0 = performance.now()
    await s.enqueueOne(k)
    out.push({ t0, ms: (await at) - t0 })
    await new Promise((r) => setTimeout(r, 5))
  }
  await s.stopWorkers()
  return out
}

const main = async () => {
  const admin = new pg.Client({ connectionString: url })
  await admin.connect()
  const systems: Array<System> = []
  for (const n of names) systems.push(await systemsByName[n]!(url))
  const load0 = loadavg()[0]!
  const figures = new Map<string, Array<[number, number, number]>>()
  for (let round = 0; round < ROUNDS; round++) {
    const order = [...systems.slice(round % systems.length), ...systems.slice(0, round % systems.length)]
    for (const s of order) {
      await s.reset()
      await admin.query("checkpoint")
      gcs.length = 0
      const samples = await enqueueToStart(s, SAMPLES)
      const xs = samples.map((x) => x.ms)
      // how many GC pauses fell inside samples, and inside the slowest 3 (the p99 of 300) and 15 (p95)
      const paused = (x: Sample) => gcs.some(([t, d]) => t + d > x.t0 && t < x.t0 + x.ms)
      const slowest = [...samples].sort((a, b) => b.ms - a.ms)
      const gcMs = gcs.reduce((a, [, d]) => a + d, 0)
      const f: [number, number, number] = [percentile(xs, 0.5), percentile(xs, 0.95), percentile(xs, 0.99)]
      figures.set(s.name, [...(figures.get(s.name) ?? []), f])
      console.log(`round ${round + 1} ${s.name}: p50 ${f[0].toFixed(2)} p95 ${f[1].toFixed(2)} p99 ${f[2].toFixed(2)} (load ${loadavg()[0]!.toFixed(1)}); GC ${gcs.length}× ${gcMs.toFixed(1)} ms, in ${samples.filter(paused).length} samples, ${slowest.slice(0, 3).filter(paused).length} of the 3 slowest, ${slowest.slice(0, 15).filter(paused).length} of the 15 slowest`)
    }
  }
  const fmt = (xs: Array<number>) =>
    `${median(xs).toFixed(2)} [${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}]`
  console.log(`\nmedian [range] over ${ROUNDS} rounds of ${SAMPLES} samples (ms); load ${load0.toFixed(1)} → ${loadavg()[0]!.toFixed(1)}`)
  for (const [name, fs] of figures) {
    console.log(`${name}: p50 ${fmt(fs.map((f) => f[0]))}  p95 ${fmt(fs.map((f) => f[1]))}  p99 ${fmt(fs.map((f) => f[2]))}`)
  }
  const ours = figures.get("jobtrack")
  if (ours) {
    for (const [name, fs] of figures) {
      if (name === "jobtrack") continue
      const r = (i: 0 | 1 | 2) => fmt(fs.map((f, k) => ours[k]![i] / f[i]))
      console.log(`jobtrack ÷ ${name} per round (below 1: jobtrack's is lower): p50 ${r(0)}  p95 ${r(1)}  p99 ${r(2)}`)
    }
  }
  for (const s of systems) await s.close()
  await admin.end()
}

await main()
