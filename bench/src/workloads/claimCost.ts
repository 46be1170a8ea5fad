/**
 * The claim's own cost (issue 13, items 3, 6, 7): N no-op jobs enqueued, then
 * claimed 10 at a time through the `claim()` SQL function on one connection,
 * each claim's jobs completed at once on another connection (as a runner's
 * completion write does, so the running set stays small). Reports per claim
 * the wall time and the CPU of the claiming connection's database backend
 * (from `/proc/<pid>/stat`, so PostgreSQL must run on this machine), which a
 * noisy machine disturbs much less than wall time. Compare builds by running
 * it from each build's `bench/` in turns.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/<yours> node src/workloads/claimCost.ts
 *   CLAIM_COST_N=10000 CLAIM_COST_ROUNDS=3 node src/workloads/claimCost.ts
 *
 * Run after `pnpm build` (it imports the built packages). Prints one JSON line per round.
 */
import { Effect, Exit, Schema, Scope } from "effect"
import { JobDefinition, JobStore, RetryPolicy, Tracker } from "@jobtrack/core"
import { postgres } from "@jobtrack/adapter-kysely"
import pg from "pg"
import { cpuMs } from "../procCpu.ts"

const url = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test"
const N = Number(process.env.CLAIM_COST_N ?? 10_000)
const ROUNDS = Number(process.env.CLAIM_COST_ROUNDS ?? 3)
const schema = "bench_claim_cost"

const noop = JobDefinition.make({
  type: "noop",
  payload: Schema.Struct({ i: Schema.Int }),
  retry: RetryPolicy.none,
  handler: () => Effect.void
})

const main = async () => {
  const admin = new pg.Client({ connectionString: url })
  await admin.connect()
  await admin.query(`drop schema if exists ${schema} cascade`)
  const scope = Effect.runSync(Scope.make())
  const store = await Effect.runPromise(Scope.provide(postgres({ connectionString: url, schema, max: 2 }), scope))
  const tracker = await Effect.runPromise(Tracker.make({ definitions: [noop] }).pipe(Effect.provideService(JobStore, store)))
  const claimer = new pg.Client({ connectionString: url })
  await claimer.connect()
  const pid = (await claimer.query<{ pid: number }>("select pg_backend_pid() as pid")).rows[0]!.pid
  for (let round = 1; round <= ROUNDS; round++) {
    await admin.query(`truncate ${schema}.jobs cascade`)
    for (let i = 0; i < N; i += 1000) {
      await Effect.runPromise(tracker.enqueueMany(noop, Array.from({ length: Math.min(1000, N - i) }, (_, k) => ({ payload: { i: i + k } }))))
    }
    await admin.query(`vacuum analyze ${schema}.jobs`)
    const cpu0 = cpuMs(pid)
    const t0 = performance.now()
    let claims = 0
    let claimed = 0
    while (claimed < N) {
      const r = await claimer.query<{ id: string }>(
        `select id from ${schema}.claim($1::text[], $2::text[], $3, $4, $5, $6::timestamptz)`,
        [["default"], ["noop"], "claim-cost", 10, 30_000, new Date().toISOString()]
      )
      claims++
      claimed += r.rows.length
      if (r.rows.length === 0) break
      await admin.query(
        `update ${schema}.jobs set status = 'completed', completed_at = now(), locked_by = null, locked_until = null
         where id = any($1::uuid[])`,
        [r.rows.map((row) => row.id)]
      )
    }
    const wall = performance.now() - t0
    console.log(JSON.stringify({
      round,
      claims,
      claimed,
      // wall includes the completion write after each claim; the backend CPU is the claim's alone
      wallMsPerClaimAndComplete: Number((wall / claims).toFixed(3)),
      backendCpuMsPerClaim: Number(((cpuMs(pid) - cpu0) / claims).toFixed(3))
    }))
  }
  await claimer.end()
  await Effect.runPromise(Scope.close(scope, Exit.void))
  await admin.query(`drop schema if exists ${schema} cascade`)
  await admin.end()
  process.exit(0)
}

await main()
