/**
 * An operator's runNow reaches a drained runner in another process at once
 * (rule 11), not at its next poll: the runner (its own pool and LISTEN
 * session, a poll a minute away) has claimed and found its queue drained;
 * the console's process then runs a job due in an hour, and a retrying job
 * due in an hour, now. Before the runNow statement announced them, each
 * waited for the poll.
 */
import { afterAll, assert, describe, it } from "vitest"
import { Effect, Exit, Schema, Scope } from "effect"
import { JobDefinition, JobStore, RetryPolicy, Runner, Tracker } from "@jobtrack/core"
import { KyselyStore, migrate } from "@jobtrack/adapter-kysely"
import { sql } from "kysely"
import { databaseUrl, postgresDatabase, randomSchema, until } from "./databases.js"
import type { TestDatabase } from "./databases.js"

const url = databaseUrl()

/** Fails its first attempt with a retry in an hour, then succeeds. */
let attempts = 0
const job = JobDefinition.make({
  type: "later",
  payload: Schema.Struct({ fail: Schema.Boolean }),
  retry: RetryPolicy.fixed("1 hour", 3),
  handler: (payload) => payload.fail && attempts++ === 0 ? Effect.fail("once") : Effect.void
})

const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect)

describe.skipIf(!url)("runNow wakes a drained runner on PostgreSQL", { tags: ["postgres"] }, () => {
  const databases: Array<TestDatabase> = []
  afterAll(async () => {
    for (const d of databases) await d.close()
  })

  it("a delayed job and a retrying job run now run within seconds, with the runner's poll a minute away", async () => {
    const schema = randomSchema("jt_runnow")
    const open = () => {
      const d = postgresDatabase(url!, 3)
      databases.push(d)
      return d
    }
    const consoleDb = open()
    await migrate(consoleDb.db, { schema })
    const scope = await run(Scope.make())
    try {
      const admin = await run(Scope.provide(KyselyStore.make({ db: consoleDb.db, schema, notifier: consoleDb.notifier }), scope))
      const tracker = await run(Tracker.make({ definitions: [job] }).pipe(Effect.provideService(JobStore, admin)))
      const worker = open()
      const own = await run(Scope.provide(KyselyStore.make({ db: worker.db, schema, notifier: worker.notifier }), scope))
      let claims = 0
      const counted = { ...own, claim: (r: Parameters<typeof own.claim>[0]) => Effect.tap(own.claim(r), () => Effect.sync(() => void claims++)) }
      await run(
        Runner.make({ definitions: [job], concurrency: 2, pollInterval: "60 seconds", prune: false, seriesSummary: false })
          .pipe(Effect.provideService(JobStore, counted), Scope.provide(scope))
      )
      const runNow = (id: string) =>
        run(admin.bulkChunk({ action: { _tag: "runNow" }, filter: { ids: [id] }, after: null, limit: 10 }))

      // a job due in an hour: the runner's claims find nothing
      const { job: delayed } = await run(tracker.enqueue(job, { fail: false }, { delay: "1 hour" }))
      await until(async () => claims, (n) => n >= 1, 5_000, "the runner's first claim")
      assert.strictEqual((await runNow(delayed.id)).applied, 1)
      await until(() => run(tracker.get(delayed.id)), (v) => v.status === "completed", 10_000, "the delayed job run now")

      // a job whose first attempt failed with a retry in an hour
      const { job: retrying } = await run(tracker.enqueue(job, { fail: true }))
      await until(() => run(tracker.get(retrying.id)), (v) => v.status === "retrying", 10_000, "the first attempt failed")
      assert.strictEqual((await runNow(retrying.id)).applied, 1)
      await until(() => run(tracker.get(retrying.id)), (v) => v.status === "completed", 10_000, "the retrying job run now")
    } finally {
      await run(Scope.close(scope, Exit.void))
      await sql.raw(`drop schema "${schema}" cascade`).execute(consoleDb.db).catch(() => {})
    }
  }, 60_000)
})
