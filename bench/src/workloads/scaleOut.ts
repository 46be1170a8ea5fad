/**
 * Scale-out (issue 13, item 7): W2 — drain a backlog of no-op jobs — with 1,
 * 2 and 4 runner processes (real child processes, concurrency 10 each) on one
 * PostgreSQL. The parent enqueues the backlog, starts the children, and
 * reads the store's counts until all are completed.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test node bench/src/workloads/scaleOut.ts
 *   SCALE_OUT_N=1000 SCALE_OUT_PROCESSES=1,2 node bench/src/workloads/scaleOut.ts   (a quick check)
 *
 * Run after `pnpm build` (it imports the built packages). Prints one JSON line per process count.
 */
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { Effect, Exit, Schema, Scope } from "effect"
import { JobDefinition, JobStore, RetryPolicy, Runner, Tracker } from "@jobtrack/core"
import { postgres } from "@jobtrack/adapter-kysely"
import pg from "pg"

const url = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test"
const N = Number(process.env.SCALE_OUT_N ?? 10_000)
const COUNTS = (process.env.SCALE_OUT_PROCESSES ?? "1,2,4").split(",").map(Number)
const schema = "bench_scale_out"

const noop = JobDefinition.make({
  type: "noop",
  payload: Schema.Struct({ i: Schema.Int }),
  retry: RetryPolicy.none,
  handler: () => Effect.void
})

/** A child: one runner until SIGTERM. */
const child = async () => {
  const scope = Effect.runSync(Scope.make())
  const store = await Effect.runPromise(Scope.provide(postgres({ connectionString: url, schema, max: 4, migrate: false }), scope))
  await Effect.runPromise(Scope.provide(
    Runner.make({ definitions: [noop], concurrency: 10, prune: false }).pipe(Effect.provideService(JobStore, store)),
    scope
  ))
  process.send?.("ready")
  process.once("SIGTERM", () => {
    void Effect.runPromise(Scope.close(scope, Exit.void)).then(() => process.exit(0))
  })
}

const parent = async () => {
  const admin = new pg.Client({ connectionString: url })
  await admin.connect()
  await admin.query(`drop schema if exists ${schema} cascade`)
  const scope = Effect.runSync(Scope.make())
  const store = await Effect.runPromise(Scope.provide(postgres({ connectionString: url, schema, max: 4 }), scope))
  const tracker = await Effect.runPromise(Tracker.make({ definitions: [noop] }).pipe(Effect.provideService(JobStore, store)))
  for (const processes of COUNTS) {
    await Effect.runPromise(store.prune(new Date(Date.now() + 60_000)))
    for (let i = 0; i < N; i += 1000) {
      const count = Math.min(1000, N - i)
      await Effect.runPromise(tracker.enqueueMany(noop, Array.from({ length: count }, (_, k) => ({ payload: { i: i + k } }))))
    }
    await admin.query(`vacuum analyze ${schema}.jobs`)
    const t0 = performance.now()
    const children = Array.from({ length: processes }, () =>
      spawn(process.execPath, [fileURLToPath(import.meta.url), "child"], { stdio: ["ignore", "inherit", "inherit", "ipc"] })
    )
    while (true) {
      // through the store, wherever it keeps finished jobs
      const stats = await Effect.runPromise(store.stats({}))
      if (stats.counts.completed >= N) break
      await new Promise((r) => setTimeout(r, 100))
    }
    const secs = (performance.now() - t0) / 1000
    await Promise.all(children.map((c) => new Promise<void>((resolve) => {
      c.once("exit", () => resolve())
      c.kill("SIGTERM")
    })))
    // includes the children's start-up (node, imports, connecting): small N overstates it
    console.log(JSON.stringify({ processes, n: N, jobsPerSecond: Math.round(N / secs) }))
  }
  await Effect.runPromise(Scope.close(scope, Exit.void))
  await admin.query(`drop schema if exists ${schema} cascade`)
  await admin.end()
}

await (process.argv[2] === "child" ? child() : parent())
