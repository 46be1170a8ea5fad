/**
 * `postgres()` sends the claim and the batched completion straight to its
 * pool (`store/Direct.ts`), past Kysely's executor: the same records and
 * outcomes as through Kysely, a failed statement a `StoreError` classified by
 * its SQLSTATE, and the connection back in the pool after a failure (a pool of
 * one connection would hang at the next call otherwise).
 */
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { Effect, Exit, Scope } from "effect"
import { JobId } from "@jobtrack/core"
import type { JobStoreShape, NewJob } from "@jobtrack/core"
import { postgres } from "@jobtrack/adapter-kysely"
import pg from "pg"
import { databaseUrl, randomSchema } from "./databases.js"

const url = databaseUrl()

describe.skipIf(!url)("postgres(): hot statements on the pool's own path", { tags: ["postgres"] }, () => {
  const schema = randomSchema("jt_direct")
  const scope = Effect.runSync(Scope.make())
  let store: JobStoreShape
  const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect)
  beforeAll(async () => {
    store = await run(Scope.provide(postgres({ connectionString: url!, schema, max: 1 }), scope))
  })
  afterAll(async () => {
    await Effect.runPromise(Scope.close(scope, Exit.void))
    const admin = new pg.Client({ connectionString: url! })
    await admin.connect()
    await admin.query(`drop schema if exists "${schema}" cascade`)
    await admin.end()
  })

  const job = (i: number): NewJob => ({
    id: JobId.make(), type: "t", queue: "default", payload: { i }, maxAttempts: 2, priority: 0,
    runAt: new Date(Date.now() - 1000), owner: "o", key: null, groupKey: null, groupLimit: null
  })
  const request = (limit: number, leaseMs = 30_000) => ({ queues: ["default"], types: ["t"], workerId: "w", leaseMs, limit })

  it("claims and completes as through Kysely; a failed claim is a StoreError and frees its connection", async () => {
    await run(store.enqueueMany([job(1), job(2), job(3)]))
    // 2^31 ms does not fit the claim's integer argument: 22003, numeric value out of range
    const failed = await run(Effect.flip(store.claim(request(2, 2 ** 31))))
    assert.strictEqual(failed._tag, "StoreError")
    assert.strictEqual((failed.cause as { code?: string } | undefined)?.code, "22003")
    // the pool has one connection: this claim runs only if the failed one gave it back
    const claimed = await run(store.claim(request(2)))
    assert.strictEqual(claimed.length, 2)
    for (const c of claimed) assert.deepStrictEqual(c, await run(store.get(c.id)))
    const { completed, refused } = await run(store.completeMany([
      { lease: { id: claimed[0]!.id, token: claimed[0]!.token }, result: { ok: true } },
      { lease: { id: claimed[1]!.id, token: claimed[1]!.token + 1 }, result: null }
    ]))
    assert.deepStrictEqual(completed, [claimed[0]!.id])
    assert.deepStrictEqual(refused, [{ id: claimed[1]!.id, token: claimed[1]!.token + 1 }])
    assert.strictEqual((await run(store.get(claimed[0]!.id))).status, "completed")
  })
})
