/**
 * Claims of limited groups under the per-schema claim lock (migration 0026),
 * in orders made certain with the lock and row locks held by the test:
 *
 * - a claimer waiting for the claim lock holds no job, so the claimer ahead
 *   of it can claim the job it chooses (under migration 0011 the waiter held
 *   a row of its lock-free read, the lock holder skipped it, and a claimable
 *   job was left behind);
 * - a lock holder whose chosen job is held by another transaction takes the
 *   next candidates until its limit is filled.
 */
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { migrate } from "@jobtrack/adapter-kysely"
import { Kysely, PostgresDialect, sql } from "kysely"
import pg from "pg"
import { databaseUrl, randomSchema } from "./databases.js"

const url = databaseUrl()

describe.skipIf(!url)("claims under the group lock on PostgreSQL", { tags: ["postgres"] }, () => {
  let db: Kysely<unknown>
  const schemas: Array<string> = []
  const clients: Array<pg.Client> = []
  beforeAll(() => {
    db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url!, max: 2 }) }) })
  })
  afterAll(async () => {
    for (const c of clients) await c.end().catch(() => {})
    for (const s of schemas) await sql.raw(`drop schema if exists "${s}" cascade`).execute(db)
    await db.destroy()
  })

  const client = async () => {
    const c = new pg.Client({ connectionString: url! })
    await c.connect()
    clients.push(c)
    return c
  }

  /** A fresh schema with `jobs` (group key, group limit), in claim order. */
  const withJobs = async (jobs: ReadonlyArray<readonly [string, number]>) => {
    const schema = randomSchema("jt_lock")
    schemas.push(schema)
    await migrate(db, { schema })
    for (const [i, [group, limit]] of jobs.entries()) {
      await sql.raw(`
        insert into "${schema}".jobs (id, type, queue, payload, status, max_attempts, run_at, created_at, updated_at,
          group_key, group_limit)
        values (gen_random_uuid(), 'h', 'q', '{}', 'pending', 1, now() - interval '1 hour' + ${i} * interval '1 second',
          now(), now(), '${group}', ${limit})`).execute(db)
    }
    return schema
  }

  const claim = (c: pg.Client, schema: string, worker: string, limit: number) =>
    c.query<{ id: string; group_key: string }>(
      `select id, group_key from "${schema}".claim(array['q'], array['h'], '${worker}', ${limit}, 30000, now())`
    ).then((r) => r.rows)

  /** Bounded wait until `n` backends wait for the claim lock of `schema`. */
  const advisoryWaiters = async (schema: string, n: number) => {
    for (let i = 0; i < 500; i++) {
      const r = await sql<{ n: number }>`
        select count(*)::integer as n from pg_locks l join pg_database d on d.oid = l.database
        where l.locktype = 'advisory' and not l.granted and d.datname = current_database()
          and l.objid::bigint = (hashtext(${schema})::bigint + 4294967296) % 4294967296`.execute(db)
      if (r.rows[0]!.n >= n) return
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    throw new Error(`${n} claimers never waited for the claim lock`)
  }

  it("a claimer waits for the claim lock holding no job: the claim ahead of it takes the job it chose", async () => {
    // claim order: a1, a2, a3 (group a, limit 1), then b1 (group b, limit 1)
    const schema = await withJobs([["a", 1], ["a", 1], ["a", 1], ["b", 1]])
    const holder = await client()
    const rows = await client()
    const first = await client()
    const second = await client()
    // the claim lock is held, and another transaction holds group a's rows
    await holder.query("begin")
    await holder.query(`select pg_advisory_xact_lock(hashtext('jobtrack.claim'), hashtext('${schema}'))`)
    await rows.query("begin")
    await rows.query(`select id from "${schema}".jobs where group_key = 'a' for update`)
    // the first claimer waits for the lock (under 0011 it held b1, the one row it could lock)
    const firstClaim = claim(first, schema, "first", 1)
    await advisoryWaiters(schema, 1)
    await rows.query("commit")
    // the second claimer waits behind it (under 0011 holding a1)
    const secondClaim = claim(second, schema, "second", 1)
    await advisoryWaiters(schema, 2)
    await holder.query("commit")
    const [a, b] = await Promise.all([firstClaim, secondClaim])
    // the first claims a1 and the second b1 (a is full); under 0011 the first skipped a1,
    // held by the second, and b1 stayed claimable with two claims of 1 returning one job
    assert.deepStrictEqual([...a, ...b].map((j) => j.group_key).sort(), ["a", "b"])
    const left = await sql<{ n: number }>`
      select count(*)::integer as n from ${sql.id(schema, "jobs")} where status = 'processing'`.execute(db)
    assert.strictEqual(left.rows[0]!.n, 2)
  }, 30_000)

  it("the lock holder passes over a chosen job another transaction holds and takes the next ones", async () => {
    const schema = await withJobs([["a", 5], ["a", 5], ["a", 5], ["a", 5]])
    const rows = await client()
    const claimer = await client()
    // a host's write holds the first job of the group
    await rows.query("begin")
    await rows.query(`select id from "${schema}".jobs order by run_at limit 1 for update`)
    const claimed = await claim(claimer, schema, "w", 3)
    await rows.query("commit")
    assert.strictEqual(claimed.length, 3, "the claim returned short with claimable jobs left")
    const pending = await sql<{ n: number }>`
      select count(*)::integer as n from ${sql.id(schema, "jobs")} where status = 'pending'`.execute(db)
    assert.strictEqual(pending.rows[0]!.n, 1)
  }, 30_000)
})
