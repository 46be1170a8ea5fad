/**
 * The claim and the batched completion go as named prepared statements on
 * a pool with `Prepared.install` (what `postgres()` opens): parsed once per
 * connection, found in the session's `pg_prepared_statements`; on a pool
 * without it, nothing is prepared and the same calls answer the same. The
 * heartbeat, the progress write and an enqueue without keys whose jobs
 * differ only in id and payload are prepared too, and every prepared
 * statement names its result columns: a migration that adds a column to
 * `jobs` does not break them on connections that prepared them before
 * (a `returning *` would: "cached plan must not change result type").
 */
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { Effect, Exit, Scope } from "effect"
import { JobId, Transaction } from "@jobtrack/core"
import type { NewJob, StoreEnqueued } from "@jobtrack/core"
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

  // one run time for all: a batch whose jobs differ only in id and payload is one prepared insert
  const due = new Date(Date.now() - 60_000)
  const job = (i: number): NewJob => ({
    id: JobId.make(), type: "t", queue: "default", payload: { i }, maxAttempts: 1, priority: 0,
    runAt: due, owner: null, key: null, groupKey: null, groupLimit: null
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

  it("prepares the enqueue, the claim and the completion once per connection, and only with install", async () => {
    const plain = await drain(false)
    assert.strictEqual(plain.done.length, 4)
    assert.deepStrictEqual(plain.prepared, [])
    const named = await drain(true)
    assert.strictEqual(named.done.length, 4)
    assert.strictEqual(named.prepared.length, 3, named.prepared.join("\n"))
    assert.isTrue(named.prepared.some((s) => s.includes("insert into")))
    assert.isTrue(named.prepared.every((s) => s.startsWith(Prepared.marker)))
    assert.isTrue(named.prepared.some((s) => s.includes(".\"claim\"(") || s.includes(".claim(") || s.includes("\"claim\"")))
    assert.isTrue(named.prepared.some((s) => s.includes("complete_many")))
  })

  it("prepares one enqueue text for every one-job enqueue; in the host's transaction sends it unnamed; keyed or mixed batches as before", async () => {
    const pool = new pg.Pool({ connectionString: url!, max: 1 })
    pool.on("connect", Prepared.install)
    const db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool }) })
    const scope = Effect.runSync(Scope.make())
    const inserts = async () =>
      (await sql<{ statement: string }>`select statement from pg_prepared_statements`.execute(db)).rows
        .filter((r) => r.statement.includes("insert into")).map((r) => r.statement)
    try {
      const store = await Effect.runPromise(Scope.provide(KyselyStore.make({ db, schema }), scope))
      const one = { ...job(1), owner: "o", traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" }
      const [a] = await Effect.runPromise(store.enqueueMany([one]))
      const [b] = await Effect.runPromise(store.enqueueMany([{ ...job(2), priority: 5, queue: "other", maxAttempts: 3 }]))
      assert.strictEqual((await inserts()).length, 1)
      assert.isTrue((await inserts())[0]!.startsWith(Prepared.marker))
      // what was returned is what is stored (a record made without a traceparent has none; the row's is null)
      const stored = (e: StoreEnqueued) =>
        Effect.runPromise(store.get(e.job.id)).then((j) => assert.deepStrictEqual(j, { ...e.job, traceparent: e.job.traceparent ?? null }))
      for (const e of [a!, b!]) {
        assert.isTrue(e.created)
        await stored(e)
      }
      assert.strictEqual(a!.job.owner, "o")
      assert.strictEqual(a!.job.traceparent, one.traceparent)
      assert.strictEqual(b!.job.priority, 5)
      assert.strictEqual(b!.job.queue, "other")
      // in the host's transaction: committed with it, nothing more prepared
      const trx = await db.startTransaction().execute()
      const [c] = await Effect.runPromise(Effect.provideService(store.enqueueMany([job(3)]), Transaction, trx))
      await trx.commit().execute()
      await stored(c!)
      // a keyed job and a batch with two run times: Kysely's statements, unnamed
      const [k] = await Effect.runPromise(store.enqueueMany([{ ...job(4), key: "k" }]))
      await Effect.runPromise(store.enqueueMany([job(5), { ...job(6), runAt: new Date(due.getTime() - 1) }]))
      await stored(k!)
      assert.strictEqual((await inserts()).length, 1)
    } finally {
      await Effect.runPromise(Scope.close(scope, Exit.void))
      await db.destroy()
    }
  })

  it("keeps working on a connection that prepared its statements before a column was added to jobs", async () => {
    const altered = randomSchema("jt_prep_alter")
    await migrate(admin, { schema: altered })
    const pool = new pg.Pool({ connectionString: url!, max: 1 })
    pool.on("connect", Prepared.install)
    const db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool }) })
    const scope = Effect.runSync(Scope.make())
    try {
      const store = await Effect.runPromise(Scope.provide(KyselyStore.make({ db, schema: altered }), scope))
      await Effect.runPromise(store.enqueueMany([1, 2, 3, 4, 5, 6].map(job)))
      /** Claim 3; renew, report progress on and read them; complete one, fail one, complete one in a batch. */
      const cycle = async (n: number) => {
        const claimed = await Effect.runPromise(
          store.claim({ queues: ["default"], types: ["t"], workerId: "w", leaseMs: 30_000, limit: 3 })
        )
        assert.strictEqual(claimed.length, 3)
        const [a, b, c] = claimed.map((j) => ({ id: j.id, token: j.token }))
        for (const lease of [a!, b!, c!]) {
          assert.deepStrictEqual(await Effect.runPromise(store.heartbeat(lease, 30_000)), { cancelRequested: false })
          await Effect.runPromise(store.progress(lease, 50, `step ${n}`))
          const read = await Effect.runPromise(store.get(lease.id))
          assert.strictEqual(read?.progressMessage, `step ${n}`)
        }
        assert.strictEqual((await Effect.runPromise(store.complete(a!, { n }))).status, "completed")
        const failed = await Effect.runPromise(store.fail({ ...b!, message: "no", retryAt: null }))
        assert.strictEqual(failed.status, "failed")
        assert.strictEqual(failed.errors.length, 1)
        const { completed } = await Effect.runPromise(store.completeMany([{ lease: c!, result: { n } }]))
        assert.strictEqual(completed.length, 1)
      }
      await cycle(1)
      // the same connection's own unmarked statement, prepared as a \`select *\`: the hazard is real
      const client = await pool.connect()
      try {
        const byId = { name: "jt_test_star", text: `select * from "${altered}".jobs limit 1` }
        await client.query(byId)
        const prepared = await client.query<{ statement: string }>("select statement from pg_prepared_statements")
        // enqueue, claim, heartbeat, progress, get, complete, fail, completeMany
        assert.strictEqual(prepared.rows.filter((r) => r.statement.startsWith(Prepared.marker)).length, 8)
        await sql.raw(`alter table "${altered}".jobs add column extra text`).execute(admin)
        const star = await client.query(byId).then(() => "ok", (e: Error) => e.message)
        assert.include(star, "cached plan must not change result type")
      } finally {
        client.release()
      }
      await cycle(2)
      const rows = await sql<{ n: number }>`select count(*)::int as n from ${sql.id(altered, "jobs")} where status in ('completed', 'failed')`
        .execute(admin)
      assert.strictEqual(rows.rows[0]!.n, 6)
    } finally {
      await Effect.runPromise(Scope.close(scope, Exit.void))
      await db.destroy()
      await sql.raw(`drop schema if exists "${altered}" cascade`).execute(admin)
    }
  })
})

/**
 * A connection recovers when its server session loses the names it
 * prepared, as behind a pooler in transaction mode that switches sessions
 * (`DEALLOCATE ALL` is what such a switch looks like to the client), and when
 * a migration changes a prepared result's type; inside a transaction the
 * error is pg's own, and the call after the rollback recovers.
 */
describe.skipIf(!url)("prepared statements recover on PostgreSQL", { tags: ["postgres"] }, () => {
  const schema = randomSchema("jt_prep_recover")
  let client: pg.Client
  beforeAll(async () => {
    client = new pg.Client({ connectionString: url! })
    await client.connect()
    Prepared.install(client)
    await client.query(`create schema "${schema}"`)
    await client.query(`create table "${schema}".t (id int primary key, v int not null)`)
    await client.query(`insert into "${schema}".t values (1, 7)`)
  })
  afterAll(async () => {
    await client.query(`drop schema if exists "${schema}" cascade`)
    await client.end()
  })

  /** A marked statement of its own text (a name of its own), run in kysely's form. */
  const marked = (tag: string) => async (id = 1) =>
    (await client.query<{ v: unknown }>(`${Prepared.marker}select v /* ${tag} */ from "${schema}".t where id = $1`, [id])).rows[0]?.v
  const prepared = async (tag: string) =>
    (await client.query<{ statement: string }>("select statement from pg_prepared_statements")).rows
      .filter((r) => r.statement.includes(`/* ${tag} */`)).length
  const codeOf = (p: Promise<unknown>) => p.then(() => "ok", (e: { code?: string }) => e.code)

  it("after a result type change, deallocates, answers unnamed, and prepares afresh", async () => {
    const read = marked(`type ${schema}`)
    assert.strictEqual(await read(), 7)
    assert.strictEqual(await prepared(`type ${schema}`), 1)
    await client.query(`alter table "${schema}".t alter column v type text`)
    assert.strictEqual(await read(), "7")
    assert.strictEqual(await prepared(`type ${schema}`), 0)
    assert.strictEqual(await read(), "7")
    assert.strictEqual(await prepared(`type ${schema}`), 1)
  })

  it("inside a transaction rethrows pg's error, leaves the transaction aborted, then recovers after it", async () => {
    const read = marked(`tx ${schema}`)
    await read()
    assert.strictEqual(await prepared(`tx ${schema}`), 1)
    await client.query("begin")
    await client.query(`deallocate all`)
    assert.strictEqual(await codeOf(read()), "26000")
    assert.strictEqual(await codeOf(client.query("select 1")), "25P02")
    await client.query("rollback")
    assert.strictEqual(client.getTransactionStatus(), "I")
    assert.isDefined(await read())
  })

  it("after the session changed under it (a pooler), answers unnamed and prepares no more", async () => {
    // the transaction test above may have turned preparing off already: a fresh client
    const own = new pg.Client({ connectionString: url! })
    await own.connect()
    Prepared.install(own)
    try {
      const text = (tag: string) => `${Prepared.marker}select v /* ${tag} ${schema} */ from "${schema}".t where id = $1`
      const names = async () =>
        (await own.query<{ statement: string }>("select statement from pg_prepared_statements")).rows.length
      assert.strictEqual((await own.query(text("a"), [1])).rowCount, 1)
      assert.strictEqual(await names(), 1)
      await own.query("deallocate all")
      assert.strictEqual((await own.query(text("a"), [1])).rowCount, 1)
      assert.strictEqual((await own.query(text("b"), [1])).rowCount, 1)
      assert.strictEqual((await own.query(text("a"), [1])).rowCount, 1)
      assert.strictEqual(await names(), 0)
    } finally {
      await own.end()
    }
  })

  it("on a session where another client prepared the same name (42P05), answers unnamed and prepares no more", async () => {
    const own = new pg.Client({ connectionString: url! })
    await own.connect()
    Prepared.install(own)
    try {
      const text = `${Prepared.marker}select v /* taken ${schema} */ from "${schema}".t where id = $1`
      await own.query(text, [1])
      // what a session prepared by another client looks like: the name is there, this client never parsed it
      const parsed = (own as unknown as { connection: { parsedStatements: Record<string, string> } }).connection.parsedStatements
      for (const name of Object.keys(parsed)) delete parsed[name]
      assert.strictEqual((await own.query(text, [1])).rowCount, 1)
      await own.query("deallocate all")
      assert.strictEqual((await own.query(text, [1])).rowCount, 1)
      const left = await own.query("select name from pg_prepared_statements")
      assert.strictEqual(left.rowCount, 0)
    } finally {
      await own.end()
    }
  })
})
