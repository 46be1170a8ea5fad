/**
 * Worker CPU per 1,000 no-op jobs (issue 13, item 3): enqueue N no-op jobs
 * on PostgreSQL, then drain them with one runner (concurrency 10) in this
 * process and report the process's CPU time (user + system, from
 * `process.cpuUsage`) and the wall time of the drain alone.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test node bench/src/workloads/workerCpu.ts
 *   WORKER_CPU_N=2000 WORKER_CPU_ROUNDS=3 node bench/src/workloads/workerCpu.ts
 *   WORKER_CPU_STORE=memory node bench/src/workloads/workerCpu.ts   (the runner's own cost, no database)
 *
 * Run after `pnpm build` (it imports the built packages). Prints one JSON line per round.
 */
import { Effect, Exit, Schema, Scope } from "effect"
import { JobDefinition, JobStore, MemoryStore, RetryPolicy, Runner, Tracker } from "@jobtrack/core"
import { postgres } from "@jobtrack/adapter-kysely"
import pg from "pg"

const url = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test"
const N = Number(process.env.WORKER_CPU_N ?? 2000)
const ROUNDS = Number(process.env.WORKER_CPU_ROUNDS ?? 3)
const schema = "bench_worker_cpu"
const memory = process.env.WORKER_CPU_STORE === "memory"

const main = async () => {
  const admin = new pg.Client({ connectionString: url })
  await admin.connect()
  await admin.query(`drop schema if exists ${schema} cascade`)
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
  const scope = Effect.runSync(Scope.make())
  const store = memory
    ? await Effect.runPromise(MemoryStore.make)
    : await Effect.runPromise(Scope.provide(postgres({ connectionString: url, schema, max: 12 }), scope))
  const tracker = await Effect.runPromise(Tracker.make({ definitions: [noop] }).pipe(Effect.provideService(JobStore, store)))
  for (let round = 1; round <= ROUNDS; round++) {
    if (!memory) await admin.query(`truncate ${schema}.jobs`)
    for (let i = 0; i < N; i += 1000) {
      const count = Math.min(1000, N - i)
      await Effect.runPromise(tracker.enqueueMany(noop, Array.from({ length: count }, (_, k) => ({ payload: { i: i + k } }))))
    }
    if (!memory) await admin.query(`vacuum analyze ${schema}.jobs`)
    seen = 0
    const all = new Promise<void>((r) => (done = r))
    const runnerScope = Effect.runSync(Scope.make())
    const cpu0 = process.cpuUsage()
    const t0 = performance.now()
    await Effect.runPromise(Scope.provide(
      Runner.make({ definitions: [noop], concurrency: 10, prune: false }).pipe(Effect.provideService(JobStore, store)),
      runnerScope
    ))
    await all
    const secs = (performance.now() - t0) / 1000
    const cpu = process.cpuUsage(cpu0)
    await Effect.runPromise(Scope.close(runnerScope, Exit.void))
    console.log(JSON.stringify({
      round,
      store: memory ? "memory" : "postgres",
      n: N,
      jobsPerSecond: Math.round(N / secs),
      cpuMsPer1000: Math.round((cpu.user + cpu.system) / 1000 / (N / 1000))
    }))
  }
  await Effect.runPromise(Scope.close(scope, Exit.void))
  await admin.query(`drop schema if exists ${schema} cascade`)
  await admin.end()
}

await main()
