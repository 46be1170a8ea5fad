/**
 * Producer cost (issue 13, item 4): a process that only enqueues (the
 * `postgres` store and a Tracker, no runner) enqueues jobs one by one and in
 * batches of 1,000 on PostgreSQL, and reports its CPU time per 1,000 jobs
 * (user + system, `process.cpuUsage`), its jobs/s, and how many sessions
 * LISTEN on the store's channel meanwhile (a producer should hold none).
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test node bench/src/workloads/producer.ts
 *   PRODUCER_ONE_N=3000 PRODUCER_BATCH_N=20000 PRODUCER_ROUNDS=3 node bench/src/workloads/producer.ts
 *
 *   PRODUCER_LISTEN=1 …   (the same producer subscribed to the store's changes, so it LISTENs:
 *                          what every process paid before the store listened on demand)
 *
 * Run after `pnpm build` (it imports the built packages). Prints one JSON line per round and mode.
 */
import { Effect, Exit, Schema, Scope, Stream } from "effect"
import { JobDefinition, JobStore, RetryPolicy, Tracker } from "@jobtrack/core"
import { postgres } from "@jobtrack/adapter-kysely"
import pg from "pg"

const url = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test"
const ONE_N = Number(process.env.PRODUCER_ONE_N ?? 3000)
const BATCH_N = Number(process.env.PRODUCER_BATCH_N ?? 20000)
const ROUNDS = Number(process.env.PRODUCER_ROUNDS ?? 3)
const schema = process.env.PRODUCER_SCHEMA ?? "bench_producer"

const job = JobDefinition.make({
  type: "email",
  payload: Schema.Struct({ to: Schema.String, subject: Schema.String, n: Schema.Int }),
  retry: RetryPolicy.none,
  handler: () => Effect.void
})
const payload = (n: number) => ({ to: `user${n}@example.com`, subject: "Welcome", n })

const main = async () => {
  const admin = new pg.Client({ connectionString: url })
  await admin.connect()
  await admin.query(`drop schema if exists ${schema} cascade`)
  const scope = Effect.runSync(Scope.make())
  const store = await Effect.runPromise(Scope.provide(postgres({ connectionString: url, schema, max: 4 }), scope))
  const tracker = await Effect.runPromise(Tracker.make({ definitions: [job] }).pipe(Effect.provideService(JobStore, store)))
  if (process.env.PRODUCER_LISTEN === "1") {
    const pull = await Effect.runPromise(Scope.provide(Stream.toPull(store.changes), scope))
    Effect.runFork(Stream.runDrain(Stream.fromPull(Effect.succeed(pull))))
  }
  const listeners = async () =>
    (await admin.query<{ n: number }>(`select count(*)::int as n from pg_stat_activity where query = $1`, [`LISTEN "jobtrack:${schema}"`])).rows[0]!.n
  const measure = async (mode: string, n: number, body: () => Promise<void>) => {
    if (n === 0) return
    await admin.query(`truncate ${schema}.jobs cascade`)
    await admin.query(`checkpoint`)
    const cpu0 = process.cpuUsage()
    const t0 = performance.now()
    await body()
    const secs = (performance.now() - t0) / 1000
    const cpu = process.cpuUsage(cpu0)
    console.log(JSON.stringify({
      mode,
      n,
      jobsPerSecond: Math.round(n / secs),
      cpuMsPer1000: Math.round((cpu.user + cpu.system) / 1000 / (n / 1000) * 10) / 10,
      listeners: await listeners()
    }))
  }
  for (let round = 1; round <= ROUNDS; round++) {
    await measure("one by one", ONE_N, async () => {
      for (let i = 0; i < ONE_N; i++) await Effect.runPromise(tracker.enqueue(job, payload(i)))
    })
    await measure("batches of 1,000", BATCH_N, async () => {
      for (let i = 0; i < BATCH_N; i += 1000) {
        const count = Math.min(1000, BATCH_N - i)
        await Effect.runPromise(tracker.enqueueMany(job, Array.from({ length: count }, (_, k) => ({ payload: payload(i + k) }))))
      }
    })
  }
  await Effect.runPromise(Scope.close(scope, Exit.void))
  await admin.query(`drop schema if exists ${schema} cascade`)
  await admin.end()
}

await main()
