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
import { Effect, Exit, Metric, Schema, Scope, Stream } from "effect"
import { JobDefinition, JobStore, MemoryStore, RetryPolicy, Runner, Telemetry } from "@jobtrack/core"
import type { JobRecord, JobStoreShape } from "@jobtrack/core"

const N = Number(process.env.TELEMETRY_N ?? 20_000)
const ROUNDS = Number(process.env.TELEMETRY_ROUNDS ?? 3)

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
    id: "00000000-0000-7000-8000-000000000000", type: "noop", queue: "default", payload: { i: 1 }, owner: null, key: null,
    maxAttempts: 1, priority: 0, runAt: new Date(0), groupKey: null, groupLimit: null,
    traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
  }))).job
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
    recoverExpired: () => Effect.succeed([]),
    stats: () => base.stats({})
  }
  const run = async (telemetry: boolean) => {
    seen = 0
    handedOut = 0
    const all = new Promise<void>((r) => (done = r))
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
