/**
 * The runner's own CPU per 1,000 no-op jobs, without a database: a store
 * that hands out synthetic claimed jobs at once and accepts every completion,
 * so what is measured is the runner's per-job machinery (fibers, settling,
 * batching, payload decoding) and nothing of a driver or of SQL. Compare
 * builds with it; `workerCpu.ts` gives the end-to-end figure on PostgreSQL.
 *
 *   RUNNER_OVERHEAD_N=20000 node bench/src/workloads/runnerOverhead.ts
 */
import { Effect, Exit, Scope } from "effect"
import { JobStore, Runner } from "@jobtrack/core"
import * as InstantStore from "./instantStore.ts"

const N = Number(process.env.RUNNER_OVERHEAD_N ?? 20_000)
const ROUNDS = Number(process.env.RUNNER_OVERHEAD_ROUNDS ?? 5)

const main = async () => {
  const { noop, round: start, store } = await InstantStore.make(N)
  for (let round = 1; round <= ROUNDS; round++) {
    const all = start()
    const scope = Effect.runSync(Scope.make())
    const cpu0 = process.cpuUsage()
    await Effect.runPromise(Scope.provide(
      Runner.make({ definitions: [noop], concurrency: 10, prune: false }).pipe(Effect.provideService(JobStore, store)),
      scope
    ))
    await all
    const cpu = process.cpuUsage(cpu0)
    await Effect.runPromise(Scope.close(scope, Exit.void))
    console.log(JSON.stringify({ round, n: N, cpuMsPer1000: Math.round((cpu.user + cpu.system) / 1000 / (N / 1000)) }))
  }
}

await main()
