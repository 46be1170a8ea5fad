/**
 * A claim interrupted while it waits for a pool connection is not sent: it
 * claims nothing once the connection frees (`store/Direct.ts`, the path of
 * `postgres()`'s own pool; a store on the host's Kysely sends it, as Kysely
 * 0.28 cannot be told not to, and the runner's claim is not interrupted
 * anyway: it waits for its claim and gives back what it got).
 * Before, the statement went out when the connection came and claimed jobs
 * for a worker that had stopped waiting for them (a runner shutting down):
 * they stayed `processing` until their lease expired.
 *
 * The pool has one connection. A first claim holds it, blocked on the claim's
 * advisory lock (held here by another client; taken when a limited group
 * waits, migration 0033); the second waits for the connection. Both waits are
 * observed, not timed: the first in `pg_locks`, the second in the pool's
 * queue of waiting callers.
 */
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { Effect, Exit, Fiber, Scope } from "effect"
import { JobId } from "@jobtrack/core"
import type { JobStoreShape, NewJob } from "@jobtrack/core"
import { postgres } from "@jobtrack/adapter-kysely"
import pg from "pg"
import { databaseUrl, randomSchema } from "./databases.js"

const url = databaseUrl()
const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect)

/** The pools created from now on (to see their queue of callers waiting for a connection). */
const pools: Array<pg.Pool> = []
const connect = pg.Pool.prototype.connect
const watchPools = () => {
  pg.Pool.prototype.connect = function(this: pg.Pool, ...args: Array<unknown>) {
    if (!pools.includes(this)) pools.push(this)
    return (connect as (...a: Array<unknown>) => unknown).apply(this, args)
  } as typeof connect
}

/** Poll `check` (each poll a real query or a look at the pool) until it holds; bounded. */
const until = async (check: () => boolean | Promise<boolean>, what: string) => {
  for (let i = 0; i < 5_000; i++) {
    if (await check()) return
    await new Promise((resolve) => setImmediate(resolve))
  }
  throw new Error(`never: ${what}`)
}

const job = (grouped: boolean): NewJob => ({
  id: JobId.make(), type: "t", queue: "default", payload: {}, maxAttempts: 1, priority: grouped ? 10 : 0,
  runAt: new Date(Date.now() - 1000), owner: "o", key: null,
  groupKey: grouped ? "g" : null, groupLimit: grouped ? 1 : null
})
const request = (workerId: string, limit = 2) => ({ queues: ["default"], types: ["t"], workerId, leaseMs: 30_000, limit })

describe.skipIf(!url)("a claim interrupted while it waits for a connection", { tags: ["postgres"] }, () => {
  let admin: pg.Client
  beforeAll(async () => {
    watchPools()
    admin = new pg.Client({ connectionString: url! })
    await admin.connect()
  })
  afterAll(async () => {
    pg.Pool.prototype.connect = connect
    await admin.end()
  })

  const claimsNothing = async (schema: string, store: JobStoreShape) => {
    await run(store.enqueueMany([job(true), job(false), job(false), job(false)]))
    // warm: the pool holds its one connection, so the next claims wait on it (not on connecting)
    assert.strictEqual((await run(store.claim(request("warm", 0)))).length, 0)
    await admin.query(`select pg_advisory_lock(hashtext('jobtrack.claim'), hashtext($1))`, [schema])
    let locked = true
    try {
      const first = Effect.runFork(store.claim(request("w1")))
      await until(async () => {
        const { rows } = await admin.query<{ n: number }>(
          `select count(*)::int n from pg_locks l join pg_database d on d.oid = l.database
           where d.datname = current_database() and l.locktype = 'advisory' and not l.granted`
        )
        return rows[0]!.n === 1
      }, "the first claim waits for the claim lock")
      const pool = pools.at(-1)!
      assert.strictEqual(pool.waitingCount, 0)
      const second = Effect.runFork(store.claim(request("w2")))
      await until(() => pool.waitingCount === 1, "the second claim waits for the connection")
      await run(Fiber.interrupt(second))
      await admin.query(`select pg_advisory_unlock(hashtext('jobtrack.claim'), hashtext($1))`, [schema])
      locked = false
      assert.strictEqual((await run(Fiber.join(first))).length, 2)
      // queued behind whatever the interrupted claim would have sent: once this answers, that has run
      // (and it answers at all only if the interrupted claim gave the connection back)
      const third = await run(store.claim(request("w3", 1)))
      const { rows } = await admin.query<{ locked_by: string; n: number }>(
        `select locked_by, count(*)::int n from "${schema}".jobs where status = 'processing' group by 1 order by 1`
      )
      assert.deepStrictEqual(rows.filter((r) => r.locked_by === "w2"), [], "jobs claimed for the interrupted claim")
      assert.deepStrictEqual(rows, [{ locked_by: "w1", n: 2 }, { locked_by: "w3", n: 1 }])
      assert.strictEqual(third.length, 1)
    } finally {
      if (locked) await admin.query(`select pg_advisory_unlock(hashtext('jobtrack.claim'), hashtext($1))`, [schema])
    }
  }

  it("postgres({ max: 1 }) (the pool's direct path)", async () => {
    const schema = randomSchema("jt_cint")
    const scope = Effect.runSync(Scope.make())
    try {
      const store = await run(Scope.provide(postgres({ connectionString: url!, schema, max: 1 }), scope))
      await claimsNothing(schema, store)
    } finally {
      await run(Scope.close(scope, Exit.void))
      await admin.query(`drop schema if exists "${schema}" cascade`)
    }
  })

})
