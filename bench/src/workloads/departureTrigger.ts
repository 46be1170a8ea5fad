/**
 * The cost of migration 0010's counting trigger (a claimable job leaving takes
 * one number of `claimable_left`, for the queue position): 20,000 pending jobs
 * in a schema of its own, then one UPDATE moving the first 1,000 in claim order
 * to processing as a claim does, under EXPLAIN ANALYZE, which times each row
 * trigger apart: `jobs_claimable_left` against the notification trigger the
 * same rows fire and the whole statement. Three rounds (the first compiles the
 * trigger functions).
 *
 *   DATABASE_URL=postgres://… ../node_modules/.bin/node src/workloads/departureTrigger.ts   (from bench/)
 */
import { migrate } from "@jobtrack/adapter-kysely"
import { Kysely, PostgresDialect } from "kysely"
import pg from "pg"

const url = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test"
const schema = `bench_departures_${Math.random().toString(36).slice(2, 8)}`
const pool = new pg.Pool({ connectionString: url, max: 1 })
const db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool }) })
try {
  await migrate(db, { schema })
  for (let round = 1; round <= 3; round++) {
    await pool.query(`truncate "${schema}".jobs cascade`)
    await pool.query(`insert into "${schema}".jobs (id, type, queue, payload, status, max_attempts, run_at, created_at, updated_at)
      select gen_random_uuid(), 'noop', 'default', '{}'::jsonb, 'pending', 1, now() - interval '1 hour' + g * interval '1 ms', now(), now()
      from generate_series(1, 20000) g`)
    await pool.query(`vacuum analyze "${schema}".jobs`)
    const plan = await pool.query<{ "QUERY PLAN": string }>(`explain (analyze) update "${schema}".jobs
      set status = 'processing', token = token + 1, locked_by = 'w', locked_until = now() + interval '1 minute',
        started_at = now(), updated_at = now()
      where id in (select id from "${schema}".jobs where status = 'pending' order by priority desc, run_at, id limit 1000)`)
    const lines = plan.rows.map((r) => r["QUERY PLAN"]).filter((l) => /^(Trigger|Execution)/.test(l))
    console.log(`round ${round}: ${lines.join("; ")}`)
  }
} finally {
  await pool.query(`drop schema if exists "${schema}" cascade`)
  await db.destroy()
}
