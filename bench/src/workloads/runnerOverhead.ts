/**
 * The runner's own CPU per 1,000 no-op jobs, without a database: a store
 * that hands out synthetic claimed jobs at once and accepts every completion,
 * so what is measured is the runner's per-job machinery (fibers, settling,
 * batching, payload decoding) and nothing of a driver or of SQL. Compare
 * builds with it; `workerCpu.ts` gives the end-to-end figure on PostgreSQL.
 *
 *   RUNNER_OVERHEAD_N=20000 node bench/src/workloads/runnerOverhead.ts
 */
import { Effect, Exit, Schema, Scope, Stream } from "effect"
import { JobDefinition, JobStore, MemoryStore, RetryPolicy, Runner } from "@jobtrack/core"
import type { JobRecord, JobStoreShape } from "@jobtrack/core"

const N = Number(process.env.RUNNER_OVERHEAD_N ?? 20_000)
const ROUNDS = Number(process.env.RUNNER_OVERHEAD_ROUNDS ?? 5)

const main = async () => {
  let seen = 0
  let done: () => void = () => {}
  const noop = JobDefinition.make({
    type: "noop",
    payload: Schema.Struct({ i: Schema.Int }),
    retry: RetryPolicy.none,
    handler: () => Effect.sync(() => {
      if (++seen === N) done()
    })
  })
  const base = await Effect.runPromise(MemoryStore.make)
  const template = (await Effect.runPromise(base.enqueue({
    type: "noop", queue: "default", payload: { i: 1 }, owner: null, key: null, maxAttempts: 1, group: null, runAt: null
  } as never))).job
  let handedOut = 0
  const store: JobStoreShape = {
    ...base,
    changes: Stream.never,
    claim: ({ limit }) =>
      Effect.sync(() => {
        const n = Math.min(limit, N - handedOut)
        const jobs: Array<JobRecord> = []
        for (let k = 0; k < n; k++) {
          const i = handedOut++
          jobs.push({ ...template, id: `job-${i}`, status: "processing", attempts: 1, token: 1, payload: { i } })
        }
        return jobs
      }),
    completeMany: (items) =>
      Effect.succeed({ completed: items.map((c) => ({ ...template, id: c.lease.id, status: "completed" as const })), refused: [] }),
    recoverExpired: () => Effect.succeed([])
  }
  for (let round = 1; round <= ROUNDS; round++) {
    seen = 0
    handedOut = 0
    const all = new Promise<void>((r) => (done = r))
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
