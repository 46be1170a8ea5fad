/**
 * A process listens only for what it uses: a store that only enqueues holds
 * no LISTEN and hears none of its own inserts; the first subscription to its
 * changes (here a runner's) starts listening, the last one to close stops
 * it. The runner still claims what was enqueued before it listened, and is
 * woken by a notification, not its (here one-minute) poll.
 */
import { afterAll, assert, describe, it } from "vitest"
import { Effect, Exit, Schema, Scope } from "effect"
import { JobDefinition, Jobtrack, JobStore, RetryPolicy, Runner, Tracker } from "@jobtrack/core"
import type { JobStoreShape } from "@jobtrack/core"
import { KyselyStore, layerPostgres, migrate, Notifier } from "@jobtrack/adapter-kysely"
import { sql } from "kysely"
import { databaseUrl, pgliteDatabase, postgresDatabase, randomSchema, until } from "./databases.js"
import type { TestDatabase } from "./databases.js"

const url = databaseUrl()

const noop = JobDefinition.make({
  type: "noop",
  payload: Schema.Struct({ n: Schema.Number }),
  retry: RetryPolicy.none,
  handler: () => Effect.void
})

const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect)

/** A notifier that counts the listens it starts and the messages it delivers. */
const counting = (inner: Notifier.Notifier) => {
  const counts = { listens: 0, messages: 0 }
  const notifier: Notifier.Notifier = {
    listen: (channel, onMessage, onResync) =>
      Effect.suspend(() => {
        counts.listens++
        return inner.listen(channel, (payload) => {
          counts.messages++
          onMessage(payload)
        }, onResync)
      })
  }
  return { counts, notifier }
}

const scenario = (name: string, open: () => Promise<TestDatabase & { listening: (schema: string) => Promise<number> }>) =>
  it(`${name}: a producer holds no LISTEN; a runner listens while it runs and is woken without polling`, async () => {
    const database = await open()
    const schema = randomSchema("jt_lod")
    await migrate(database.db, { schema })
    const scope = await run(Scope.make())
    try {
      const { counts, notifier } = counting(database.notifier)
      const store: JobStoreShape = await run(Scope.provide(KyselyStore.make({ db: database.db, schema, notifier }), scope))
      const tracker = await run(Tracker.make({ definitions: [noop] }).pipe(Effect.provideService(JobStore, store)))
      const before = await run(tracker.enqueueMany(noop, Array.from({ length: 50 }, (_, n) => ({ payload: { n } }))))
      assert.strictEqual(before.length, 50)
      assert.deepStrictEqual(counts, { listens: 0, messages: 0 })
      assert.strictEqual(await database.listening(schema), 0, "a producer holds a LISTEN")

      const runnerScope = await run(Scope.make())
      await run(
        Runner.make({ definitions: [noop], concurrency: 8, pollInterval: "60 seconds" }).pipe(
          Effect.provideService(JobStore, store),
          Scope.provide(runnerScope)
        )
      )
      assert.strictEqual(counts.listens, 1)
      assert.strictEqual(await database.listening(schema), 1)
      // enqueued before it listened: claimed at its start
      for (const { job } of before) {
        await until(() => run(tracker.get(job.id)), (v) => v.status === "completed", 10_000, "an earlier job done")
      }
      // enqueued while it waits for a minute-long poll: only the notification can wake it this soon
      const { job } = await run(tracker.enqueue(noop, { n: -1 }))
      await until(() => run(tracker.get(job.id)), (v) => v.status === "completed", 5_000, "woken by the notification")
      assert.isAbove(counts.messages, 0)

      await run(Scope.close(runnerScope, Exit.void))
      await until(() => database.listening(schema), (n) => n === 0, 5_000, "no LISTEN once the runner stopped")
    } finally {
      await run(Scope.close(scope, Exit.void))
      await sql.raw(`drop schema "${schema}" cascade`).execute(database.db).catch(() => {})
      await database.close()
    }
  }, 30_000)

describe("listening on demand", () => {
  const closers: Array<() => Promise<void>> = []
  afterAll(async () => {
    for (const c of closers) await c()
  })

  scenario("PGlite", async () => {
    const database = await pgliteDatabase()
    return {
      ...database,
      // PGlite is one session: its own listening channels
      listening: async (schema) =>
        (await sql<{ c: string }>`select pg_listening_channels() as c`.execute(database.db)).rows
          .filter((r) => r.c === `jobtrack:${schema}`).length
    }
  })

  describe.skipIf(!url)("PostgreSQL", { tags: ["postgres"] }, () => {
    it("Jobtrack.make: a process that only enqueues holds no LISTEN; start() listens, close() stops", async () => {
      const app = `jt_lod_${Math.random().toString(36).slice(2, 8)}`
      const schema = randomSchema("jt_lod")
      const database = postgresDatabase(url!, 2)
      const listening = async () =>
        (await sql<{ n: number }>`select count(*)::int as n from pg_stat_activity
          where application_name = ${app} and query = ${`LISTEN "jobtrack:${schema}"`}`.execute(database.db)).rows[0]!.n
      const jobs = Jobtrack.make({
        store: layerPostgres({ connectionString: `${url!}${url!.includes("?") ? "&" : "?"}application_name=${app}`, schema, max: 2 }),
        definitions: [noop],
        runner: { pollInterval: "60 seconds" }
      })
      try {
        const many = await jobs.enqueueMany(noop, Array.from({ length: 20 }, (_, n) => ({ payload: { n } })))
        for (let n = 0; n < 20; n++) await jobs.enqueue(noop, { n })
        assert.strictEqual(await listening(), 0, "a producer holds a LISTEN")
        await jobs.start()
        assert.strictEqual(await listening(), 1)
        for (const { job } of many) {
          await until(() => jobs.get(job.id), (v) => v.status === "completed", 10_000, "an earlier job done")
        }
        const { job } = await jobs.enqueue(noop, { n: -1 })
        await until(() => jobs.get(job.id), (v) => v.status === "completed", 5_000, "woken by the notification")
      } finally {
        await jobs.close()
        await until(listening, (n) => n === 0, 5_000, "no LISTEN once closed")
        await sql.raw(`drop schema "${schema}" cascade`).execute(database.db).catch(() => {})
        await database.close()
      }
    }, 30_000)

    scenario("PostgreSQL", async () => {
      const app = `jt_lod_${Math.random().toString(36).slice(2, 8)}`
      const named = `${url!}${url!.includes("?") ? "&" : "?"}application_name=${app}`
      const database = postgresDatabase(url!, 4)
      return {
        ...database,
        notifier: Notifier.postgres(named),
        listening: async (schema) =>
          (await sql<{ n: number }>`select count(*)::int as n from pg_stat_activity
            where application_name = ${app} and query = ${`LISTEN "jobtrack:${schema}"`}`.execute(database.db)).rows[0]!.n
      }
    })
  })
})
