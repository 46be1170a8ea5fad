/**
 * Which indexes of `jobs` a job's transitions write (issue 13, item 3;
 * migration 0025). No update of a job is HOT, so each transition inserts an
 * entry in every index whose predicate the new row version satisfies; the
 * indexes only the console reads must take as few as the console needs. The
 * store's own statements (enqueue, claim, batched completion) move 2,000
 * jobs with neither owner nor key through their life, and the indexes whose
 * size grew at each step are the ones that took entries (2,000 entries are
 * several pages in any index, so an index that took them cannot stay the
 * same size): of the console's indexes only `jobs_admin_queue_type_created`
 * (at each step) and `jobs_admin_finished` (at the completion) take an
 * entry of a job that runs and completes, none at the claim but the first,
 * and the claim writes no other index but the primary key and
 * `jobs_processing`.
 */
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { Effect, Exit, Scope } from "effect"
import { JobId } from "@jobtrack/core"
import type { JobStoreShape, NewJob } from "@jobtrack/core"
import { KyselyStore, migrate } from "@jobtrack/adapter-kysely"
import { Kysely, PostgresDialect, sql } from "kysely"
import pg from "pg"
import { databaseUrl, randomSchema } from "./databases.js"

const url = databaseUrl()
const N = 2_000

describe.skipIf(!url)("the indexes a job's life writes on PostgreSQL", { tags: ["postgres"] }, () => {
  let db: Kysely<unknown>
  const schema = randomSchema("jt_iw")
  const scope = Effect.runSync(Scope.make())
  let store: JobStoreShape
  beforeAll(async () => {
    db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url!, max: 4 }) }) })
    await migrate(db, { schema })
    store = await Effect.runPromise(Scope.provide(KyselyStore.make({ db, schema }), scope))
  })
  afterAll(async () => {
    await Effect.runPromise(Scope.close(scope, Exit.void))
    await sql.raw(`drop schema if exists "${schema}" cascade`).execute(db)
    await db.destroy()
  })

  const sizes = async () => {
    const r = await sql<{ name: string; bytes: string }>`
      select c.relname as name, pg_relation_size(c.oid)::text as bytes
      from pg_index i join pg_class c on c.oid = i.indexrelid
      where i.indrelid = ${`"${schema}".jobs`}::regclass`.execute(db)
    return new Map(r.rows.map((x) => [x.name, Number(x.bytes)]))
  }
  const grown = (before: Map<string, number>, after: Map<string, number>) =>
    [...after].filter(([name, bytes]) => bytes > (before.get(name) ?? 0)).map(([name]) => name).sort()

  it("a job that runs and completes enters two console indexes, the claim one", async () => {
    const run = <A, E>(e: Effect.Effect<A, E>) => Effect.runPromise(e)
    const job = (i: number): NewJob => ({
      id: JobId.make(), type: "t", queue: "default", payload: { i }, maxAttempts: 1, priority: 0,
      runAt: new Date(Date.now() - 1000), owner: null, key: null, groupKey: null, groupLimit: null
    })
    const empty = await sizes()
    for (let b = 0; b < N; b += 500) await run(store.enqueueMany(Array.from({ length: 500 }, (_, i) => job(b + i))))
    const enqueued = await sizes()

    const leases: Array<{ id: string; token: number }> = []
    while (leases.length < N) {
      const claimed = await run(store.claim({ queues: ["default"], types: ["t"], workerId: "w", limit: 100, leaseMs: 60_000 }))
      assert.isAbove(claimed.length, 0, "the backlog ran dry before every job was claimed")
      leases.push(...claimed.map((j) => ({ id: j.id, token: j.token })))
    }
    const claimed = await sizes()
    assert.deepStrictEqual(grown(enqueued, claimed).filter((n) => n !== "jobs_pkey" && n !== "jobs_processing"),
      ["jobs_admin_queue_type_created"], "the claim (pending → processing) wrote more than one console index")

    for (let b = 0; b < N; b += 100) {
      const done = await run(store.completeMany(leases.slice(b, b + 100).map((lease) => ({ lease, result: null }))))
      assert.strictEqual(done.completed.length, 100)
    }
    const completed = await sizes()
    const life = [...new Set([...grown(empty, enqueued), ...grown(enqueued, claimed), ...grown(claimed, completed)])]
    assert.deepStrictEqual(life.filter((n) => n.startsWith("jobs_admin_")).sort(),
      ["jobs_admin_finished", "jobs_admin_queue_type_created"], "the console's indexes a job that runs and completes enters")
  }, 60_000)
})
