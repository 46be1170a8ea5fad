/**
 * The claim and the batched completion planned on an empty table (issue 13,
 * item 1: a claim's cost independent of planner statistics). Both run on
 * generic plans made once per connection (migration 0028). A runner that
 * starts on an empty queue makes those plans while the statistics say `jobs`
 * is empty; a backlog that arrives after must still be claimed through
 * `jobs_claim` and completed by primary key, not by a sequential scan kept
 * until the next ANALYZE (migration 0037). Plan shape, not timing: the
 * store's one connection has auto_explain loaded.
 */
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { Effect, Exit, Scope } from "effect"
import { JobId } from "@jobtrack/core"
import type { JobStoreShape, NewJob } from "@jobtrack/core"
import { KyselyStore, migrate, Notifier } from "@jobtrack/adapter-kysely"
import { Kysely, PostgresDialect, sql } from "kysely"
import pg from "pg"
import { databaseUrl, explaining, randomSchema } from "./databases.js"

const url = databaseUrl()

describe.skipIf(!url)("the claim planned on an empty table on PostgreSQL", { tags: ["postgres"] }, () => {
  let db: Kysely<unknown>
  const schema = randomSchema("jt_empty")
  beforeAll(() => {
    db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url!, max: 2 }) }) })
  })
  afterAll(async () => {
    await sql.raw(`drop schema if exists "${schema}" cascade`).execute(db)
    await db.destroy()
  })

  it("a backlog that arrives after the first claims is claimed through jobs_claim and completed by primary key", async () => {
    await migrate(db, { schema })
    const s = `"${schema}"`
    await sql.raw(`alter table ${s}.jobs set (autovacuum_enabled = false)`).execute(db)
    // the statistics say what a new deployment's say: no rows at all
    await sql.raw(`vacuum analyze ${s}.jobs`).execute(db)

    const plans: Array<string> = []
    const explained = explaining(url!, plans)
    const scope = Effect.runSync(Scope.make())
    try {
      const store: JobStoreShape = await Effect.runPromise(
        Scope.provide(KyselyStore.make({ db: explained, schema, notifier: Notifier.postgres(url!) }), scope)
      )
      const run = <A, E>(e: Effect.Effect<A, E>) => Effect.runPromise(e)
      const request = { queues: ["default"], types: ["e"], workerId: "w", limit: 10, leaseMs: 30_000 }
      // the runner's first claims and a completion find nothing: their plans are made now, on an empty table
      for (let i = 0; i < 3; i++) assert.strictEqual((await run(store.claim(request))).length, 0)
      await run(store.completeMany([{ lease: { id: JobId.make(), token: 1 }, result: null }]))

      const job = (): NewJob => ({
        id: JobId.make(), type: "e", queue: "default", payload: {}, maxAttempts: 1,
        priority: 0, runAt: new Date(Date.now() - 1000), owner: null, key: null, groupKey: null, groupLimit: null
      })
      for (let b = 0; b < 4; b++) await run(store.enqueueMany(Array.from({ length: 500 }, job)))
      plans.length = 0
      for (let round = 0; round < 5; round++) {
        const claimed = await run(store.claim(request))
        assert.strictEqual(claimed.length, 10)
        const done = await run(store.completeMany(claimed.map((j) => ({ lease: { id: j.id, token: j.token }, result: null }))))
        assert.strictEqual(done.completed.length, 10)
      }
      const stale = await sql<{ n: string }>`select reltuples::bigint as n from pg_class where oid = ${`${s}.jobs`}::regclass`
        .execute(db)
      assert.isAtMost(Number(stale.rows[0]!.n), 0, "the statistics were refreshed: the test would prove nothing")

      for (const p of plans) assert.notMatch(p, /Seq Scan on jobs\b/, `a sequential scan of jobs:\n${p}`)
      assert.isAtLeast(plans.filter((p) => p.includes("jobs_claim")).length, 5, "no plan of a claim read jobs_claim")
      assert.isAtLeast(plans.filter((p) => p.includes("jsonb_to_recordset")).length, 5, "no plan of the batched completion")
    } finally {
      await Effect.runPromise(Scope.close(scope, Exit.void))
      await explained.destroy()
    }
  }, 120_000)
})
