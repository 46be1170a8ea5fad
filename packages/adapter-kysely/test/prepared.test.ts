/**
 * The claim and the batched completion go as named prepared statements on
 * a pool with `Prepared.install` (what `postgres()` opens): parsed once per
 * connection, found in the session's `pg_prepared_statements`; on a pool
 * without it, nothing is prepared and the same calls answer the same.
 */
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { Effect, Exit, Scope } from "effect"
import { JobId } from "@jobtrack/core"
import type { NewJob } from "@jobtrack/core"
import { KyselyStore, migrate, Prepared } from "@jobtrack/adapter-kysely"
import { Kysely, PostgresDialect, sql } from "kysely"
import pg from "pg"
import { databaseUrl, randomSchema } from "./databases.js"

const url = databaseUrl()

describe.skipIf(!url)("prepared hot statements on PostgreSQL", { tags: ["postgres"] }, () => {
  const schema = randomSchema("jt_prep")
  let admin: Kysely<unknown>
  beforeAll(async () => {
    admin = new Kysely<unknown>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url!, max: 1 }) }) })
    await migrate(admin, { schema })
  })
  afterAll(async () => {
    await sql.raw(`drop schema if exists "${schema}" cascade`).execute(admin)
    await admin.destroy()
  })

  const job = (i: number): NewJob => ({
    id: JobId.make(), type: "t", queue: "default", payload: { i }, maxAttempts: 1, priority: 0,
    runAt: new Date(Date.now() - 1000), owner: null, key: null, groupKey: null, groupLimit: null
  })

  /** Two claims and completions on a one-connection pool; the statements that connection prepared. */
  const drain = async (install: boolean) => {
    const pool = new pg.Pool({ connectionString: url!, max: 1 })
    if (install) pool.on("connect", Prepared.install)
    const db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool }) })
    const scope = Effect.runSync(Scope.make())
    try {
      const store = await Effect.runPromise(Scope.provide(KyselyStore.make({ db, schema }), scope))
      await Effect.runPromise(store.enqueueMany([job(1), job(2), job(3), job(4)]))
      const done: Array<string> = []
      for (let i = 0; i < 2; i++) {
        const claimed = await Effect.runPromise(
          store.claim({ queues: ["default"], types: ["t"], workerId: "w", leaseMs: 30_000, limit: 2 })
        )
        assert.strictEqual(claimed.length, 2)
        const { completed } = await Effect.runPromise(
          store.completeMany(claimed.map((j) => ({ lease: { id: j.id, token: j.token }, result: { ok: i } })))
        )
        done.push(...completed)
      }
      const prepared = await sql<{ statement: string }>`select statement from pg_prepared_statements`.execute(db)
      return { done, prepared: prepared.rows.map((r) => r.statement) }
    } finally {
      await Effect.runPromise(Scope.close(scope, Exit.void))
      await db.destroy()
    }
  }

  it("prepares the claim and the completion once per connection, and only with install", async () => {
    const plain = await drain(false)
    assert.strictEqual(plain.done.length, 4)
    assert.deepStrictEqual(plain.prepared, [])
    const named = await drain(true)
    assert.strictEqual(named.done.length, 4)
    assert.strictEqual(named.prepared.length, 2, named.prepared.join("\n"))
    assert.isTrue(named.prepared.every((s) => s.startsWith(Prepared.marker)))
    assert.isTrue(named.prepared.some((s) => s.includes(".\"claim\"(") || s.includes(".claim(") || s.includes("\"claim\"")))
    assert.isTrue(named.prepared.some((s) => s.includes("complete_many")))
  })
})
