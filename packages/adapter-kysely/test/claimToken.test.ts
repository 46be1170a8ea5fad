/**
 * A claim lost in a database crash never reissues its fencing token
 * (migration 0033). The claim commits without waiting for a WAL flush: after
 * a crash the job can be pending again with the token it had before that
 * claim, and no holder, while the worker the lost claim answered still runs.
 * The next claim must hand out a token other than the lost one, so that
 * worker's heartbeat, progress and completion are refused (LeaseLost), on
 * both claim paths (lock-free, and under the lock for a limited group).
 */
import { Effect, Exit, Scope } from "effect"
import type { JobRecord, JobStoreShape, NewJob } from "@jobtrack/core"
import { JobId, LeaseLost } from "@jobtrack/core"
import { KyselyStore, migrate } from "@jobtrack/adapter-kysely"
import { sql } from "kysely"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { databaseUrl, pgliteDatabase, postgresDatabase, randomSchema } from "./databases.js"
import type { TestDatabase } from "./databases.js"

const url = databaseUrl()

const newJob = (groupKey: string | null): NewJob => ({
  id: JobId.make(),
  type: "test",
  queue: "default",
  payload: null,
  maxAttempts: 3,
  priority: 0,
  runAt: new Date(Date.now() - 1000),
  owner: null,
  key: null,
  groupKey,
  groupLimit: groupKey === null ? null : 1
})

const suite = (name: string, open: () => Promise<TestDatabase>) =>
  describe(name, () => {
    let database: TestDatabase
    let store: JobStoreShape
    let scope: Scope.Closeable
    const schema = randomSchema("jt_tok")
    const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect)
    const claimOne = async (): Promise<JobRecord> => {
      const claimed = await run(store.claim({ queues: ["default"], types: ["test"], workerId: "w", limit: 1, leaseMs: 60_000 }))
      assert.strictEqual(claimed.length, 1)
      return claimed[0]!
    }
    const refused = async (effect: Effect.Effect<unknown, unknown>, what: string) => {
      const error = await run(Effect.flip(effect).pipe(Effect.orElseSucceed(() => "accepted" as const)))
      assert.instanceOf(error, LeaseLost, `${what} with the lost claim's lease: ${String(error)}`)
    }

    beforeAll(async () => {
      database = await open()
      await migrate(database.db, { schema })
      scope = Effect.runSync(Scope.make())
      store = await run(Scope.provide(KyselyStore.make({ db: database.db, schema, notifier: database.notifier }), scope))
    }, 120_000) // PGlite runs every migration in this process
    afterAll(async () => {
      await run(Scope.close(scope, Exit.void))
      await sql.raw(`drop schema "${schema}" cascade`).execute(database.db).catch(() => {})
      await database.close()
    })

    for (const [path, group] of [["lock-free", null], ["limited group, under the lock", "g"]] as const) {
      it(`a claim after a lost one hands out another token (${path})`, async () => {
        const job = newJob(group)
        await run(store.enqueue(job))
        const before = (await run(store.get(job.id))).token
        const first = await claimOne()
        assert.strictEqual(first.id, job.id)
        assert.notStrictEqual(first.token, before)
        // the first claim's commit never reached disk: recovery leaves the row as it was before it
        await sql.raw(`update "${schema}".jobs set status = 'pending', token = ${before}, attempts = attempts - 1,
          locked_by = null, locked_until = null, started_at = null where id = '${job.id}'`).execute(database.db)
        const second = await claimOne()
        assert.strictEqual(second.id, job.id)
        assert.notStrictEqual(second.token, first.token, "the lost claim's token was handed out again")
        assert.isTrue(Number.isInteger(second.token) && second.token >= 1 && second.token <= 2147483646)
        const lost = { id: job.id, token: first.token }
        await refused(store.heartbeat(lost, 60_000), "heartbeat")
        await refused(store.complete(lost, { by: "first" }), "complete")
        const done = await run(store.complete({ id: job.id, token: second.token }, { by: "second" }))
        assert.deepStrictEqual(done.result, { by: "second" })
      })
    }
  })

suite("claim token after a lost claim (PGlite)", pgliteDatabase)
describe.skipIf(!url)("on PostgreSQL", { tags: ["postgres"] }, () => {
  suite("claim token after a lost claim (PostgreSQL)", async () => postgresDatabase(url!, 4))
})
