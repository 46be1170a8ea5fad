/**
 * The claim's plan with a large history and stale statistics (migration 0004):
 * EXPLAIN of the claim function's own statements, through auto_explain, so the
 * plans checked are the ones the function really runs (plan shape, not timing).
 */
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { migrate } from "@jobtrack/adapter-kysely"
import { Kysely, PostgresDialect, sql } from "kysely"
import pg from "pg"
import { databaseUrl, randomSchema } from "./databases.js"

const url = databaseUrl()

describe.skipIf(!url)("the claim with a large history on PostgreSQL", { tags: ["postgres"] }, () => {
  let pool: pg.Pool
  let db: Kysely<unknown>
  const schemas: Array<string> = []
  beforeAll(() => {
    pool = new pg.Pool({ connectionString: url!, max: 6 })
    db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool }) })
  })
  afterAll(async () => {
    for (const s of schemas) await sql.raw(`drop schema if exists "${s}" cascade`).execute(db)
    await db.destroy()
  })

  it("the claim locks by primary key and scans only the claim index, with 300,000 finished rows and statistics from before the backlog", async () => {
    const schema = randomSchema("jt_plan")
    schemas.push(schema)
    await migrate(db, { schema })
    const s = `"${schema}"`
    const finished = (table: string, n: number) => `
      insert into ${s}.${table} (id, type, queue, payload, status, max_attempts, attempts, run_at, token,
        created_at, started_at, completed_at, updated_at)
      select gen_random_uuid(), 'h', 'default', '{}', 'completed', 1, 1, now() - interval '1 day', 1,
        now() - interval '1 day', now() - interval '1 day', now() - interval '1 day', now() - interval '1 day'
      from generate_series(1, ${n})`
    const client = new pg.Client({ connectionString: url! })
    await client.connect()
    try {
      // no autovacuum: the statistics stay whatever the last ANALYZE saw
      await client.query(`alter table ${s}.jobs set (autovacuum_enabled = false)`)
      // a long history of finished jobs, in one insert
      await client.query(finished("jobs", 300_000))
      await client.query(`analyze ${s}.jobs`)
      // the backlog arrives after the statistics: the planner believes there is no pending job
      await client.query(`
        insert into ${s}.jobs (id, type, queue, payload, status, max_attempts, run_at, created_at, updated_at,
          group_key, group_limit)
        select gen_random_uuid(), 'h', 'default', '{}', 'pending', 1, now() - interval '1 minute', now(), now(),
          case when i % 10 = 0 then 'g' || (i % 7) end, case when i % 10 = 0 then 2 end
        from generate_series(1, 10000) i`)
      const stale = await client.query<{ n: string }>(
        `select reltuples::bigint as n from pg_class where oid = '${s}.jobs'::regclass`
      )
      assert.strictEqual(Number(stale.rows[0]!.n), 300_000, "the statistics were refreshed: the test would prove nothing")

      const plans: Array<string> = []
      client.on("notice", (msg) => {
        if (msg.message?.includes("Query Text")) plans.push(msg.message)
      })
      await client.query(`load 'auto_explain'`)
      await client.query(`set auto_explain.log_min_duration = 0`)
      await client.query(`set auto_explain.log_nested_statements = on`)
      await client.query(`set auto_explain.log_level = notice`)
      // past plpgsql's first five custom plans, into its generic ones
      let claimed = 0
      for (let i = 0; i < 8; i++) {
        const r = await client.query(
          `select id from ${s}.claim(array['default'], array['h'], 'w', 10, 30000, now())`
        )
        claimed += r.rowCount ?? 0
      }
      await client.query(`load 'auto_explain'`)
      await client.query(`set auto_explain.log_min_duration = -1`)
      assert.strictEqual(claimed, 80)

      const lockPlans = plans.filter((p) => p.includes("LockRows"))
      const candidatePlans = plans.filter((p) => p.includes("into v_ids") || p.includes("candidates as"))
      assert.isAtLeast(lockPlans.length, 8, `no plan of the lock step was seen among ${plans.length}`)
      assert.isAtLeast(candidatePlans.length, 8, "no plan of the candidate step was seen")
      for (const p of plans) {
        assert.notMatch(p, /Seq Scan on jobs\b/, `a sequential scan of jobs:\n${p}`)
      }
      for (const p of lockPlans) {
        assert.include(p, "jobs_pkey", `the lock step does not use the primary key:\n${p}`)
        assert.notInclude(p, "jobs_claim", `the lock step scans the claim index:\n${p}`)
      }
      for (const p of candidatePlans) {
        assert.include(p, "jobs_claim", `the candidates do not come from the claim index:\n${p}`)
      }
    } finally {
      await client.end()
    }
  }, 180_000)
})
