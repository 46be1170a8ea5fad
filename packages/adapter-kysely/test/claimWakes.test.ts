/**
 * Claims per notification with two runners on one PostgreSQL (issue 13 item
 * 7): each runner has its own pool and its own LISTEN session, as two
 * processes would. Jobs enqueued one at a time reach both runners; each
 * claims once per notification (one of them finds the job), and neither
 * claims again when its job ends, since its last claim found the queue
 * drained. Before, the runner that ran the job claimed once more as the job
 * ended (its slot freed): three claims per job where two do.
 */
import { afterAll, assert, describe, it } from "vitest"
import { Effect, Exit, Schema, Scope } from "effect"
import { JobDefinition, JobStore, RetryPolicy, Runner, Tracker } from "@jobtrack/core"
import type { JobStoreShape } from "@jobtrack/core"
import { KyselyStore, migrate } from "@jobtrack/adapter-kysely"
import { sql } from "kysely"
import { databaseUrl, postgresDatabase, randomSchema, until } from "./databases.js"
import type { TestDatabase } from "./databases.js"

const url = databaseUrl()

const noop = JobDefinition.make({
  type: "noop",
  payload: Schema.Struct({ n: Schema.Number }),
  retry: RetryPolicy.none,
  handler: () => Effect.void
})

const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect)

describe.skipIf(!url)("claims per notification, two runners on PostgreSQL", { tags: ["postgres"] }, () => {
  const databases: Array<TestDatabase> = []
  afterAll(async () => {
    for (const d of databases) await d.close()
  })

  it("each enqueue is claimed once by each runner, and a finished job wakes no claim", async () => {
    const schema = randomSchema("jt_wakes")
    const open = () => {
      const d = postgresDatabase(url!, 3)
      databases.push(d)
      return d
    }
    const producer = open()
    await migrate(producer.db, { schema })
    const scope = await run(Scope.make())
    try {
      const store = await run(Scope.provide(KyselyStore.make({ db: producer.db, schema, notifier: producer.notifier }), scope))
      const tracker = await run(Tracker.make({ definitions: [noop] }).pipe(Effect.provideService(JobStore, store)))
      /** Claims of each runner: how many jobs each returned. */
      const claims: Array<Array<number>> = [[], []]
      for (const k of [0, 1]) {
        const d = open()
        const own = await run(Scope.provide(KyselyStore.make({ db: d.db, schema, notifier: d.notifier }), scope))
        const counted: JobStoreShape = {
          ...own,
          claim: (request) => Effect.tap(own.claim(request), (jobs) => Effect.sync(() => void claims[k]!.push(jobs.length)))
        }
        await run(
          Runner.make({ definitions: [noop], concurrency: 4, pollInterval: "60 seconds", prune: false, seriesSummary: false })
            .pipe(Effect.provideService(JobStore, counted), Scope.provide(scope))
        )
      }
      await until(async () => claims.map((c) => c.length), (n) => n.every((x) => x >= 1), 5_000, "each runner's first claim")
      const first = claims.map((c) => c.length)
      const jobs = 8
      for (let n = 0; n < jobs; n++) {
        const { job } = await run(tracker.enqueue(noop, { n }))
        await until(() => run(tracker.get(job.id)), (v) => v.status === "completed", 10_000, `job ${n} done`)
      }
      const since = () => claims.map((c, k) => c.slice(first[k]))
      // every notification has been claimed for by both runners (the poll is a minute away)
      await until(async () => since().flat().length, (n) => n >= 2 * jobs, 10_000, "both runners' claims")
      const after = since().flat()
      assert.strictEqual(after.filter((x) => x > 0).length, jobs, "each job claimed once")
      assert.strictEqual(after.length, 2 * jobs, `claims per job: ${JSON.stringify(since())}`)
    } finally {
      await run(Scope.close(scope, Exit.void))
      await sql.raw(`drop schema "${schema}" cascade`).execute(producer.db).catch(() => {})
    }
  }, 60_000)
})
