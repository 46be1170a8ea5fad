/**
 * The cost of telemetry per job: the runner's CPU per 1,000 no-op jobs (the
 * W2 shape: empty handlers) with telemetry off, then on (spans on Effect's
 * native tracer, metrics; lifecycle lines left at Debug, as their cost is the
 * sink's), alternating, over a store that answers at once (as in
 * `runnerOverhead.ts`), so the figure is jobtrack's own work and nothing of
 * a database. Off must match a
 * build without telemetry; "on" minus "off" is the cost per job.
 *
 *   TELEMETRY_N=20000 TELEMETRY_ROUNDS=3 node bench/src/workloads/telemetry.ts
 */
import { Effect, Exit, Metric, Scope } from "effect"
import { JobStore, Runner, Telemetry } from "@jobtrack/core"
import * as InstantStore from "./instantStore.ts"

const N = Number(process.env.TELEMETRY_N ?? 20_000)
const ROUNDS = Number(process.env.TELEMETRY_ROUNDS ?? 3)

const main = async () => {
  const { noop, round: start, store } = await InstantStore.make(N)
  const run = async (telemetry: boolean) => {
    const all = start()
    const scope = Effect.runSync(Scope.make())
    const cpu0 = process.cpuUsage()
    const runner = Runner.make({ definitions: [noop], concurrency: 10, prune: false }).pipe(
      Effect.provideService(JobStore, store),
      telemetry ? Effect.provideService(Telemetry.Telemetry, Telemetry.settings({ depthInterval: "1 hour", lifecycleLogs: false })) : (e) => e,
      Effect.provideService(Metric.MetricRegistry, new Map())
    )
    await Effect.runPromise(Scope.provide(runner, scope))
    await all
    const cpu = process.cpuUsage(cpu0)
    await Effect.runPromise(Scope.close(scope, Exit.void))
    return Math.round(((cpu.user + cpu.system) / 1000 / (N / 1000)) * 10) / 10
  }
  for (let round = 1; round <= ROUNDS; round++) {
    const off = await run(false)
    const on = await run(true)
    console.log(JSON.stringify({ round, n: N, cpuMsPer1000: { off, on }, costPerJobUs: Math.round((on - off) * 10) / 10 }))
  }
}

await main()
