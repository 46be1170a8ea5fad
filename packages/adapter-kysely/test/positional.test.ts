/**
 * The statements `postgres()` reads by position (`store/Positional.ts`) ask
 * the server for no row description: the store knows their column types.
 * These must be the types the migrations' functions return, as the server
 * describes them; a migration that changes one must change its `Columns`.
 * And the records read by position are those read through Kysely.
 */
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { Effect, Exit, Scope } from "effect"
import { JobId } from "@jobtrack/core"
import type { JobStoreShape, NewJob } from "@jobtrack/core"
import { KyselyStore, postgres } from "@jobtrack/adapter-kysely"
import pg from "pg"
import { claimColumns, claimText } from "../src/store/Claim.js"
import { completedColumns, completeManyStatement } from "../src/store/Lifecycle.js"
import { databaseUrl, postgresDatabase, randomSchema } from "./databases.js"
import type { TestDatabase } from "./databases.js"

const url = databaseUrl()

describe.skipIf(!url)("statements read by position", { tags: ["postgres"] }, () => {
  const schema = randomSchema("jt_positional")
  const scope = Effect.runSync(Scope.make())
  let own: JobStoreShape
  let database: TestDatabase
  let viaKysely: JobStoreShape
  const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect)
  beforeAll(async () => {
    own = await run(Scope.provide(postgres({ connectionString: url!, schema, max: 2 }), scope))
    database = postgresDatabase(url!, 2)
    viaKysely = await run(Scope.provide(KyselyStore.make({ db: database.db, schema, notifier: database.notifier }), scope))
  })
  afterAll(async () => {
    await run(Scope.close(scope, Exit.void))
    await database?.close()
    const admin = new pg.Client({ connectionString: url! })
    await admin.connect()
    await admin.query(`drop schema if exists "${schema}" cascade`)
    await admin.end()
  })

  it("their column types are the ones the server describes", async () => {
    const client = new pg.Client({ connectionString: url! })
    await client.connect()
    try {
      const claim = await client.query(claimText(schema), [["default"], ["t"], "w", 0, 1000, new Date().toISOString()])
      assert.deepStrictEqual(claim.fields.map((f) => f.dataTypeID), [...claimColumns.oids])
      const completed = await client.query(completeManyStatement(schema), ["[]", new Date().toISOString()])
      assert.deepStrictEqual(completed.fields.map((f) => f.dataTypeID), [...completedColumns.oids])
    } finally {
      await client.end()
    }
  })

  it("a record read by position is the one read through Kysely, every column set", async () => {
    const at = new Date(Date.now() - 60_000)
    const job: NewJob = {
      id: JobId.make(), type: "t", queue: "q_positional", payload: { a: [1, "x"], n: null }, maxAttempts: 3,
      priority: 7, runAt: at, owner: "o", key: "k", groupKey: "g", groupLimit: 2, traceparent: "00-0123456789abcdef0123456789abcdef-0123456789abcdef-01"
    }
    await run(own.enqueueMany([job]))
    const request = { queues: ["q_positional"], types: ["t"], workerId: "w1", leaseMs: 30_000, limit: 5 }
    // a first attempt that fails with a retry: errors, error message, result-less, attempts 1
    const [first] = await run(own.claim(request))
    await run(own.progress({ id: first!.id, token: first!.token }, 40, "half"))
    await run(own.fail({ id: first!.id, token: first!.token, message: "boom", retryAt: new Date(Date.now() - 1000), stack: "s" }))
    const [second] = await run(own.claim(request))
    assert.strictEqual(second!.id, job.id)
    assert.strictEqual(second!.errors.length, 1)
    assert.strictEqual(second!.progress, 40)
    assert.deepStrictEqual(second, await run(viaKysely.get(job.id)))
    assert.deepStrictEqual(second, await run(own.get(job.id)))
    // the same claim's row through Kysely's rows (KyselyStore.make: no positional path)
    await run(own.release({ id: second!.id, token: second!.token }))
    const [third] = await run(viaKysely.claim(request))
    assert.deepStrictEqual(third, await run(own.get(job.id)))
    const { completed } = await run(own.completeMany([{ lease: { id: third!.id, token: third!.token }, result: { ok: 1 } }]))
    assert.deepStrictEqual(completed, [job.id])
  })
})
