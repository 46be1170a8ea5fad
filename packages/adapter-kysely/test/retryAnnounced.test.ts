/**
 * A job made claimable again by another process is announced (migration
 * 0039): a retry due at once and a recovered lease wake a drained runner in
 * another process, as a release does, instead of waiting for its poll (here
 * a minute). Process B is a second pool and LISTEN session on the same
 * schema; it holds the job with the store's own claim, then gives it back.
 */
import { afterAll, assert, describe, it } from "vitest"
import { Effect, Exit, Schema, Scope } from "effect"
import { JobDefinition, JobId, JobStore, RetryPolicy, Runner, Tracker } from "@jobtrack/core"
import type { JobStoreShape } from "@jobtrack/core"
import { KyselyStore, migrate } from "@jobtrack/adapter-kysely"
import { sql } from "kysely"
import pg from "pg"
import { databaseUrl, postgresDatabase, randomSchema, until } from "./databases.js"
import type { TestDatabase } from "./databases.js"

const url = databaseUrl()
const flaky = JobDefinition.make({
  type: "flaky",
  payload: Schema.Struct({}),
  retry: RetryPolicy.fixed("0 millis", 3),
  handler: () => Effect.void
})
const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect)

describe.skipIf(!url)("another process's retry or recovery wakes a drained runner", { tags: ["postgres"] }, () => {
  const databases: Array<TestDatabase> = []
  afterAll(async () => {
    for (const d of databases) await d.close()
  })

  for (const how of ["release", "retry", "recover"] as const) {
    it(`${how} in process B: runner A claims it without its one-minute poll`, async () => {
      const schema = randomSchema("jt_due")
      const open = () => {
        const d = postgresDatabase(url!, 3)
        databases.push(d)
        return d
      }
      const b = open()
      await migrate(b.db, { schema })
      const scope = await run(Scope.make())
      try {
        const storeB: JobStoreShape = await run(Scope.provide(KyselyStore.make({ db: b.db, schema, notifier: b.notifier }), scope))
        const tracker = await run(Tracker.make({ definitions: [flaky] }).pipe(Effect.provideService(JobStore, storeB)))
        const { job } = await run(tracker.enqueue(flaky, {}))
        const [held] = await run(storeB.claim({ queues: ["default"], types: ["flaky"], workerId: "B", limit: 1, leaseMs: 60_000 }))
        assert.strictEqual(held?.id, job.id)

        const a = open()
        const storeA = await run(Scope.provide(KyselyStore.make({ db: a.db, schema, notifier: a.notifier }), scope))
        const claims: Array<number> = []
        const counted: JobStoreShape = {
          ...storeA,
          claim: (r) => Effect.tap(storeA.claim(r), (jobs) => Effect.sync(() => void claims.push(jobs.length)))
        }
        await run(
          Runner.make({ definitions: [flaky], concurrency: 4, pollInterval: "1 minute", lease: "1 minute", prune: false, seriesSummary: false })
            .pipe(Effect.provideService(JobStore, counted), Scope.provide(scope))
        )
        // A's first claim found nothing (B holds the job): A is drained and waits for an announcement
        await until(async () => claims.length, (n) => n >= 1, 10_000, "A's first claim")
        assert.deepStrictEqual(claims, [0])

        const lease = { id: held!.id, token: held!.token }
        if (how === "release") await run(storeB.release(lease))
        if (how === "retry") await run(storeB.fail({ ...lease, message: "B failed it", retryAt: new Date() }))
        if (how === "recover") {
          // B's lease runs out (set in the row rather than waited for), and B recovers it
          await sql.raw(`update "${schema}".jobs set locked_until = now() - interval '1 second' where id = '${job.id}'`).execute(b.db)
          assert.strictEqual((await run(storeB.recoverExpired())).length, 1)
        }
        const done = await until(() => run(tracker.get(job.id)), (v) => v.status === "completed", 10_000, `${how}: A runs the job`)
        // a release gives its attempt back; a failure and a recovery count it
        assert.strictEqual(done.attempts, how === "release" ? 1 : 2)
      } finally {
        await run(Scope.close(scope, Exit.void))
        await sql.raw(`drop schema "${schema}" cascade`).execute(b.db).catch(() => {})
      }
    }, 30_000)
  }

  it("a retry with a delay is not announced when it is scheduled; one due at once is", async () => {
    const schema = randomSchema("jt_due")
    const d = postgresDatabase(url!, 3)
    databases.push(d)
    await migrate(d.db, { schema })
    // the channel as any process hears it; notifications arrive in commit order
    const listener = new pg.Client({ connectionString: url! })
    await listener.connect()
    const heard: Array<{ i: string; k: string }> = []
    listener.on("notification", (n) => heard.push(JSON.parse(n.payload ?? "{}") as { i: string; k: string }))
    await listener.query(`listen "jobtrack:${schema}"`)
    const scope = await run(Scope.make())
    try {
      const store = await run(Scope.provide(KyselyStore.make({ db: d.db, schema, notifier: d.notifier }), scope))
      const job = (i: number) => ({
        id: JobId.make(), type: "flaky", queue: "default", payload: { i }, maxAttempts: 3, priority: 0,
        runAt: new Date(Date.now() - 1000), owner: null, key: null, groupKey: null, groupLimit: null
      })
      const [later, now] = [job(1), job(2)]
      await run(store.enqueueMany([later, now]))
      // their enqueue's announcements come before a marker sent after it; only what the failures announce counts below
      await sql.raw(`select pg_notify('jobtrack:${schema}', '{"k":"marker","i":""}')`).execute(d.db)
      await until(async () => heard.some((h) => h.k === "marker"), (seen) => seen, 5_000, "the marker heard")
      heard.length = 0
      const held = await run(store.claim({ queues: ["default"], types: ["flaky"], workerId: "B", limit: 2, leaseMs: 60_000 }))
      assert.strictEqual(held.length, 2)
      const lease = (id: string) => ({ id, token: held.find((j) => j.id === id)!.token })
      await run(store.fail({ ...lease(later.id), message: "in 800 ms", retryAt: new Date(Date.now() + 800) }))
      await run(store.fail({ ...lease(now.id), message: "at once", retryAt: new Date() }))
      // the second failure's announcement comes after anything the first one sent
      await until(async () => heard.filter((h) => h.k === "enqueued" && h.i === now.id).length, (n) => n === 1, 5_000, "the retry due at once announced")
      assert.deepStrictEqual(heard.filter((h) => h.k === "enqueued" && h.i === later.id), [], "a retry not due yet was announced")
    } finally {
      await run(Scope.close(scope, Exit.void))
      await listener.end()
      await sql.raw(`drop schema "${schema}" cascade`).execute(d.db).catch(() => {})
    }
  }, 30_000)
})
