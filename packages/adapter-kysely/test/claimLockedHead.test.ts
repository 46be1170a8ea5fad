/**
 * A claim that finds every job at its queue's head locked by another
 * transaction, holding none itself, waits for them (migration 0044) instead
 * of returning nothing: a writer that only re-checked a row (a second
 * process's recovery of the same lease) holds it until it commits, and the
 * drained runner that skipped it would wait for its poll. The other
 * transaction here is a plain `select … for update`; the claim's wait is
 * seen in `pg_stat_activity`, not timed.
 */
import { afterAll, assert, describe, it } from "vitest"
import { Effect, Exit, Scope } from "effect"
import { JobId } from "@jobtrack/core"
import type { JobStoreShape } from "@jobtrack/core"
import { KyselyStore, migrate } from "@jobtrack/adapter-kysely"
import { sql } from "kysely"
import pg from "pg"
import { databaseUrl, postgresDatabase, randomSchema, until } from "./databases.js"
import type { TestDatabase } from "./databases.js"

const url = databaseUrl()
const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect)

const job = () => ({
  id: JobId.make(), type: "t", queue: "default", payload: {}, maxAttempts: 3, priority: 0,
  runAt: new Date(Date.now() - 1000), owner: null, key: null, groupKey: null, groupLimit: null
})

describe.skipIf(!url)("a claim waits for a head another transaction holds", { tags: ["postgres"] }, () => {
  const databases: Array<TestDatabase> = []
  const clients: Array<pg.Client> = []
  afterAll(async () => {
    for (const c of clients) await c.end().catch(() => {})
    for (const d of databases) await d.close()
  })

  /** A store on a fresh schema, a second session (the other writer), and the claim's lock waits. */
  const setup = async () => {
    const schema = randomSchema("jt_head")
    const d = postgresDatabase(url!, 3)
    databases.push(d)
    await migrate(d.db, { schema })
    const scope = await run(Scope.make())
    const store: JobStoreShape = await run(Scope.provide(KyselyStore.make({ db: d.db, schema, notifier: d.notifier }), scope))
    const other = new pg.Client({ connectionString: url! })
    clients.push(other)
    await other.connect()
    const claimsWaiting = async () =>
      Number((await sql<{ n: string }>`
        select count(*) as n from pg_stat_activity
        where datname = current_database() and wait_event_type = 'Lock' and query like ${`%"${schema}"."claim"%`}`
        .execute(d.db)).rows[0]!.n)
    const claim = () => run(store.claim({ queues: ["default"], types: ["t"], workerId: "w", limit: 4, leaseMs: 60_000 }))
    const close = async () => {
      await run(Scope.close(scope, Exit.void))
      await sql.raw(`drop schema "${schema}" cascade`).execute(d.db).catch(() => {})
    }
    return { schema, store, other, claimsWaiting, claim, close }
  }

  it("takes the job once the other transaction ends, instead of returning nothing", async () => {
    const { claim, claimsWaiting, close, other, schema, store } = await setup()
    try {
      const j = job()
      await run(store.enqueueMany([j]))
      await other.query("begin")
      await other.query(`select id from "${schema}".jobs where id = $1 for update`, [j.id])
      const claiming = claim()
      await until(claimsWaiting, (n) => n === 1, 10_000, "the claim waits for the row")
      await other.query("commit")
      assert.deepStrictEqual((await claiming).map((c) => c.id), [j.id])
    } finally {
      await other.query("rollback").catch(() => {})
      await close()
    }
  })

  it("leaves a job another claim took while it waited", async () => {
    const { claim, claimsWaiting, close, other, schema, store } = await setup()
    try {
      const j = job()
      await run(store.enqueueMany([j]))
      // the other transaction claims the job (as a claim does: locked, then processing)
      await other.query("begin")
      await other.query(`update "${schema}".jobs set status = 'processing', locked_by = 'other' where id = $1`, [j.id])
      const claiming = claim()
      await until(claimsWaiting, (n) => n === 1, 10_000, "the claim waits for the row")
      await other.query("commit")
      assert.deepStrictEqual(await claiming, [])
      const [row] = (await sql<{ locked_by: string }>`select locked_by from ${sql.id(schema, "jobs")}`.execute(databases.at(-1)!.db)).rows
      assert.strictEqual(row?.locked_by, "other")
    } finally {
      await other.query("rollback").catch(() => {})
      await close()
    }
  })

  it("gives up after its bounded wait and claims nothing, without an error", async () => {
    const { claim, close, other, schema, store } = await setup()
    try {
      const j = job()
      await run(store.enqueueMany([j]))
      await other.query("begin")
      await other.query(`select id from "${schema}".jobs where id = $1 for update`, [j.id])
      // held for the whole claim: the claim's wait (500 ms) runs out
      assert.deepStrictEqual(await claim(), [])
      await other.query("commit")
      assert.deepStrictEqual((await claim()).map((c) => c.id), [j.id])
    } finally {
      await other.query("rollback").catch(() => {})
      await close()
    }
  })

  it("a claim that took some jobs does not wait for the others", async () => {
    const { claim, claimsWaiting, close, other, schema, store } = await setup()
    try {
      const [a, b] = [job(), job()]
      await run(store.enqueueMany([a, b]))
      await other.query("begin")
      await other.query(`select id from "${schema}".jobs where id = $1 for update`, [a.id])
      // b is free: the claim takes it and returns without waiting for a (it could deadlock a claim holding a)
      let done = false
      const claiming = claim().finally(() => (done = true))
      const seen: Array<number> = []
      while (!done) seen.push(await claimsWaiting())
      assert.deepStrictEqual((await claiming).map((c) => c.id), [b.id])
      assert.notInclude(seen, 1, "the claim waited for a")
      await other.query("commit")
    } finally {
      await other.query("rollback").catch(() => {})
      await close()
    }
  })
})
