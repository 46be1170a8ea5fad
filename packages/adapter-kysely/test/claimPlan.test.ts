/**
 * The claim's plan with a large history and stale statistics (migrations 0004,
 * 0011, 0014 and 0026): EXPLAIN of the claim function's own statements, through
 * auto_explain, so the plans checked are the ones the function really runs
 * (plan shape, not timing), on both of its paths: the lock-free one (no
 * limited group among the first jobs) and the group-exact one under the lock.
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

  /**
   * `history`: statistics taken after the history, before the backlog.
   * `empty`: column statistics of the empty table, the row count refreshed
   * after the load (as a CREATE INDEX or VACUUM does): without migration 0014
   * the lock-free read was planned as a bitmap scan of the whole queue.
   */
  const scenario = (statistics: "history" | "empty") => async () => {
    // the empty table's statistics mislead the planner with less history: a shorter test
    const history = statistics === "history" ? 300_000 : 100_000
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
      if (statistics === "empty") await client.query(`analyze ${s}.jobs`)
      // a long history of finished jobs, in one insert
      await client.query(finished("jobs", history))
      if (statistics === "history") await client.query(`analyze ${s}.jobs`)
      // the backlog arrives after the statistics: the planner believes there is no pending job
      await client.query(`
        insert into ${s}.jobs (id, type, queue, payload, status, max_attempts, run_at, created_at, updated_at,
          group_key, group_limit)
        select gen_random_uuid(), 'h', 'default', '{}', 'pending', 1,
          -- the grouped jobs first in claim order: every claim of this queue takes the group-exact path
          now() - case when i % 10 = 0 then interval '2 minutes' else interval '1 minute' end, now(), now(),
          case when i % 10 = 0 then 'g' || (i % 7) end, case when i % 10 = 0 then 2 end
        from generate_series(1, 10000) i`)
      // and a backlog without groups in another queue: claimed on the lock-free path
      await client.query(`
        insert into ${s}.jobs (id, type, queue, payload, status, max_attempts, run_at, created_at, updated_at)
        select gen_random_uuid(), 'h', 'bulk', '{}', 'pending', 1, now() - interval '1 minute', now(), now()
        from generate_series(1, 10000) i`)
      if (statistics === "empty") {
        // the row count catches up, the column statistics stay the empty table's
        await client.query(`create index jt_plan_refresh on ${s}.jobs (created_at)`)
        await client.query(`drop index ${s}.jt_plan_refresh`)
      }
      const stale = await client.query<{ n: string; columns: string }>(
        `select reltuples::bigint as n,
           (select count(*) from pg_stats where schemaname = '${schema}' and tablename = 'jobs') as columns
         from pg_class where oid = '${s}.jobs'::regclass`
      )
      if (statistics === "history") {
        assert.strictEqual(Number(stale.rows[0]!.n), history, "the statistics were refreshed: the test would prove nothing")
      } else {
        assert.strictEqual(Number(stale.rows[0]!.n), history + 20_000, "the row count was not refreshed")
        assert.strictEqual(Number(stale.rows[0]!.columns), 0, "the column statistics saw rows: the test would prove nothing")
      }

      const plans: Array<string> = []
      client.on("notice", (msg) => {
        if (msg.message?.includes("Query Text")) plans.push(msg.message)
      })
      await client.query(`load 'auto_explain'`)
      await client.query(`set auto_explain.log_min_duration = 0`)
      await client.query(`set auto_explain.log_nested_statements = on`)
      await client.query(`set auto_explain.log_level = notice`)
      // past plpgsql's first five custom plans, into its generic ones
      const claimed: Record<string, number> = { default: 0, bulk: 0 }
      for (let i = 0; i < 8; i++) {
        for (const queue of ["default", "bulk"]) {
          const r = await client.query(
            `select id from ${s}.claim(array['${queue}'], array['h'], 'w', 10, 30000, now())`
          )
          claimed[queue]! += r.rowCount ?? 0
        }
      }
      await client.query(`load 'auto_explain'`)
      await client.query(`set auto_explain.log_min_duration = -1`)
      assert.strictEqual(claimed["bulk"], 80)
      assert.isAtLeast(claimed["default"]!, 14)
      const groups = await client.query<{ n: number }>(
        `select count(*)::integer as n from ${s}.jobs where status = 'processing' and group_key is not null group by group_key`
      )
      assert.deepStrictEqual(groups.rows.map((r) => r.n), Array.from({ length: 7 }, () => 2), "a group limit was not kept")

      // the lock-free path: the head of the queue read from the claim index (is a limited group
      // among it?), the first jobs without one read from it and locked as read, then claimed by id;
      // when fewer were free than wanted, whether a limited group waits (migration 0026)
      const firstPlans = plans.filter((p) => p.includes("bool_or"))
      const lockedReadPlans = plans.filter((p) => p.includes("for update of j skip locked"))
      const waitingPlans = plans.filter((p) => p.includes("select 1 from") && p.includes("j.group_limit is not null"))
      const claimByIdPlans = plans.filter((p) => p.includes("where j.id = any(v_ids)") && !p.includes("locked as"))
      // the group-exact path: candidates from the claim index, chosen rows locked by primary key
      const lockPlans = plans.filter((p) => p.includes("locked as"))
      const candidatePlans = plans.filter((p) => p.includes("candidates as"))
      assert.isAtLeast(firstPlans.length, 16, `no plan of the lock-free read was seen among ${plans.length}`)
      assert.isAtLeast(claimByIdPlans.length, 8, "no plan of the lock-free claim by id was seen")
      assert.isAtLeast(lockPlans.length, 8, "no plan of the lock step was seen")
      assert.isAtLeast(candidatePlans.length, 8, "no plan of the candidate step was seen")
      for (const p of plans) {
        assert.notMatch(p, /Seq Scan on jobs\b/, `a sequential scan of jobs:\n${p}`)
        assert.notMatch(p, /Bitmap Heap Scan on jobs\b/, `a bitmap scan of jobs:\n${p}`)
      }
      assert.isAtLeast(lockedReadPlans.length, 8, "no plan of the lock-free locked read was seen")
      for (const p of [...lockedReadPlans, ...waitingPlans]) {
        assert.include(p, "Index Scan using jobs_claim", `the step does not read the claim index in order:\n${p}`)
      }
      for (const p of firstPlans) {
        assert.include(p, "Index Scan using jobs_claim", `the first jobs do not come from an ordered scan of the claim index:\n${p}`)
        assert.notInclude(p, "jobs_pkey", `the lock-free read joins by primary key:\n${p}`)
      }
      for (const p of [...lockPlans, ...claimByIdPlans]) {
        assert.include(p, "jobs_pkey", `the step does not use the primary key:\n${p}`)
        assert.notInclude(p, "jobs_claim", `the step scans the claim index:\n${p}`)
      }
      for (const p of candidatePlans) {
        assert.include(p, "jobs_claim", `the candidates do not come from the claim index:\n${p}`)
      }
    } finally {
      await client.end()
    }
  }

  it(
    "the claim reads only the claim index and writes by primary key, with 300,000 finished rows and statistics from before the backlog",
    scenario("history"),
    180_000
  )

  it(
    "the same with 100,000 finished rows, the column statistics of the empty table and the row count refreshed after the load",
    scenario("empty"),
    180_000
  )
})
