/**
 * Text the runner and the hook deliverer keep on a handler's behalf reaches
 * PostgreSQL whole: a `ctx.log` line whose fields' JSON is cut at 2,000
 * characters mid surrogate pair made a lone surrogate that `jsonb` refuses
 * (the attempt's batch of lines was lost with "log lines not kept"), and a
 * hook's error was stored whole (megabytes) or refused (a NUL character).
 */
import { afterAll, assert, describe, it } from "vitest"
import { Effect, Exit, Schema, Scope } from "effect"
import { JobDefinition, JobStore, RetryPolicy, Runner, Storable, Tracker } from "@jobtrack/core"
import type { JobStoreShape } from "@jobtrack/core"
import { KyselyStore, migrate } from "@jobtrack/adapter-kysely"
import { sql } from "kysely"
import { databaseUrl, postgresDatabase, randomSchema, until } from "./databases.js"
import type { TestDatabase } from "./databases.js"

const url = databaseUrl()
const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect)

describe.skipIf(!url)("text kept on a handler's behalf, on PostgreSQL", { tags: ["postgres"] }, () => {
  const databases: Array<TestDatabase> = []
  afterAll(async () => {
    for (const d of databases) await d.close()
  })

  const withStore = async (body: (store: JobStoreShape, scope: Scope.Closeable) => Promise<void>) => {
    const schema = randomSchema("jt_kept")
    const d = postgresDatabase(url!, 4)
    databases.push(d)
    await migrate(d.db, { schema })
    const scope = await run(Scope.make())
    try {
      const store = await run(Scope.provide(KyselyStore.make({ db: d.db, schema, notifier: d.notifier }), scope))
      await body(store, scope)
    } finally {
      await run(Scope.close(scope, Exit.void))
      await sql.raw(`drop schema "${schema}" cascade`).execute(d.db).catch(() => {})
    }
  }

  it("a log line whose fields are cut mid surrogate pair is kept, with the lines around it", async () => {
    // {"s":"😀😀… : the emoji start at index 6, so the cut at 1,999 falls between the halves of one
    const logging = JobDefinition.make({
      type: "logging",
      payload: Schema.Struct({}),
      retry: RetryPolicy.none,
      handler: (_, ctx) =>
        Effect.gen(function*() {
          yield* ctx.log("before")
          yield* ctx.log("emoji", { s: "😀".repeat(1_500) })
          yield* ctx.log("😀".repeat(1_500))
          yield* ctx.log("after")
        })
    })
    await withStore(async (store, scope) => {
      const tracker = await run(Tracker.make({ definitions: [logging] }).pipe(Effect.provideService(JobStore, store)))
      await run(Runner.make({ definitions: [logging], pollInterval: "100 millis", prune: false, seriesSummary: false }).pipe(Effect.provideService(JobStore, store), Scope.provide(scope)))
      const { job } = await run(tracker.enqueue(logging, {}))
      await until(() => run(tracker.get(job.id)), (v) => v.status === "completed", 15_000, "the job completes")
      const lines = await until(() => run(tracker.logs(job.id)), (l) => l.length > 0, 5_000, "the lines are written")
      assert.deepStrictEqual(lines.map((l) => l.message.slice(0, 6)), ["before", "emoji", "😀😀😀", "after"])
      const truncated = String(lines[1]!.fields?.truncated)
      assert.isAtMost(truncated.length, 2_000)
      assert.isTrue(truncated.endsWith("😀…"))
      assert.isUndefined(Storable.textProblem(truncated))
      assert.isTrue(lines[2]!.message.endsWith("😀…"))
      assert.isUndefined(Storable.textProblem(lines[2]!.message))
    })
  }, 60_000)

  it("a hook's error is stored cut to 4,096 characters and storable", async () => {
    const quiet = JobDefinition.make({ type: "quiet", payload: Schema.Struct({}), retry: RetryPolicy.none, handler: () => Effect.void })
    await withStore(async (store, scope) => {
      const tracker = await run(Tracker.make({ definitions: [quiet] }).pipe(Effect.provideService(JobStore, store)))
      await run(
        Runner.make({
          definitions: [quiet],
          pollInterval: "100 millis",
          prune: false,
          seriesSummary: false,
          hooks: { onCompleted: () => Effect.fail(new Error(`\u0000${"é".repeat(1_000_000)}`)) },
          hookDelivery: { retry: RetryPolicy.fixed("1 hour", 1), pollInterval: "100 millis" }
        }).pipe(Effect.provideService(JobStore, store), Scope.provide(scope))
      )
      const { job } = await run(tracker.enqueue(quiet, {}))
      const [delivery] = await until(
        () => run(store.listDeliveries({ jobId: job.id })),
        (ds) => ds.length === 1 && ds[0]!.lastError !== null,
        15_000,
        "the failed delivery's error is stored"
      )
      const stored = delivery!.lastError!
      assert.strictEqual(stored.length, 4_096)
      assert.isTrue(stored.startsWith("\ufffdéé"))
      assert.isTrue(stored.endsWith("é…"))
    })
  }, 60_000)
})
