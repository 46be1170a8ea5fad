/**
 * Migration 0015's jobs trigger while a status feed is open: status changes
 * stamp `feed_clock` (one row per queue, type and status) and notify
 * nothing; with no feed open nothing is stamped; and a REPEATABLE READ
 * transaction whose snapshot predates another's stamp still commits (the
 * feed never fails a job's transaction).
 */
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { migrate } from "@jobtrack/adapter-kysely"
import { Kysely, PostgresDialect, sql } from "kysely"
import pg from "pg"
import { databaseUrl, randomSchema } from "./databases.js"

const url = databaseUrl()

describe.skipIf(!url)("the status feed's clock (migration 0015)", { tags: ["postgres"] }, () => {
  const schema = randomSchema("jt_feedclock")
  let pool: pg.Pool
  let db: Kysely<unknown>
  let listener: pg.Client
  const heard: Array<string> = []
  const jobs = sql.id(schema, "jobs")
  const watches = sql.id(schema, "watches")
  const clock = sql.id(schema, "feed_clock")

  /** `n` running jobs of type "test" in "default"; their ids. */
  const running = async (n: number) =>
    (await sql<{ id: string }>`
      insert into ${jobs} (id, type, queue, payload, status, max_attempts, run_at, created_at, updated_at)
      select gen_random_uuid(), 'test', 'default', '{}'::jsonb, 'processing', 1, now(), now(), now()
      from generate_series(1, ${n}::int) returning id`.execute(db)).rows.map((r) => r.id)
  const complete = (id: string, on: { query: (q: string, v: Array<unknown>) => Promise<unknown> } = pool) =>
    on.query(`update "${schema}".jobs set status = 'completed' where id = $1::uuid`, [id])
  const stamps = async () =>
    (await sql<{ key: string }>`select queue || '/' || type || '/' || status as key from ${clock} order by 1`.execute(db))
      .rows.map((r) => r.key)

  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: url!, max: 3 })
    db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool }) })
    await migrate(db, { schema })
    listener = new pg.Client({ connectionString: url! })
    await listener.connect()
    listener.on("notification", (m) => heard.push(m.payload ?? ""))
    await listener.query(`listen "jobtrack:${schema}"`)
  })
  afterAll(async () => {
    await listener?.end()
    await sql.raw(`drop schema if exists "${schema}" cascade`).execute(db)
    await db.destroy()
  })

  it("stamps while a feed is open, nothing otherwise, and notifies nothing either way", async () => {
    for (const id of await running(3)) await complete(id)
    assert.deepStrictEqual(await stamps(), [], "stamped with no feed open")

    await sql`insert into ${watches} (job_id, watcher, expires_at)
      values ('00000000-0000-0000-0000-000000000000'::uuid, 'test', now() + interval '1 minute')`.execute(db)
    const ids = await running(20)
    // one statement over many rows, then single-row transactions
    await sql`update ${jobs} set status = 'failed' where id = any(${ids.slice(0, 10)}::uuid[])`.execute(db)
    for (const id of ids.slice(10)) await complete(id)
    assert.deepStrictEqual(await stamps(), ["default/test/completed", "default/test/failed"])
    const fresh = await sql<{ ok: boolean }>`
      select bool_and(stamped_at > clock_timestamp() - interval '1 minute') as ok from ${clock}`.execute(db)
    assert.isTrue(fresh.rows[0]!.ok)
    // a notification would have arrived before the select above returned
    await listener.query("select 1")
    const kinds = heard.map((p) => (JSON.parse(p) as { k: string }).k)
    assert.deepStrictEqual(kinds.filter((k) => k !== "enqueued"), [], "the feed sent notifications")
  })

  it("a REPEATABLE READ transaction whose snapshot predates another's stamp still commits", async () => {
    const [early, late] = await running(2)
    const rr = await pool.connect()
    try {
      await rr.query("begin isolation level repeatable read")
      await rr.query(`select count(*) from "${schema}".feed_clock`) // the snapshot
      await sql`delete from ${clock}`.execute(db)
      // another transaction stamps "cancelled" after the snapshot: this one does not see the
      // stamp, and its own (insert … on conflict) meets it
      await pool.query(`update "${schema}".jobs set status = 'cancelled' where id = $1::uuid`, [early])
      await rr.query(`update "${schema}".jobs set status = 'cancelled' where id = $1::uuid`, [late])
      await rr.query("commit")
    } finally {
      rr.release()
    }
    const status = await sql<{ status: string }>`select status from ${jobs} where id = ${late}::uuid`.execute(db)
    assert.strictEqual(status.rows[0]!.status, "cancelled")
  })
})
