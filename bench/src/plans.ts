/**
 * Query plans at 1,000,000 rows: fills a schema with a realistic mix (mostly
 * finished jobs, 50,000 waiting, a few hundred running, 1,000 owners, keys on
 * every job) and prints EXPLAIN ANALYZE of the queries the store runs.
 *
 *   DATABASE_URL=… pnpm --filter @jobtrack/bench plans
 */
import { migrate } from "@jobtrack/adapter-kysely"
import { Kysely, PostgresDialect } from "kysely"
import pg from "pg"

const url = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test"
const schema = "plans_jobtrack"
const rows = Number(process.env.PLANS_ROWS ?? 1_000_000)
const pool = new pg.Pool({ connectionString: url, max: 2 })
const db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool }) })

await pool.query(`drop schema if exists ${schema} cascade`)
await migrate(db, { schema })
const t0 = performance.now()
await pool.query(`alter table ${schema}.jobs disable trigger user`)
await pool.query(`
  insert into ${schema}.jobs (id, type, queue, payload, status, progress, attempts, max_attempts, priority, run_at,
    owner, key, group_key, group_limit, locked_by, locked_until, token, created_at, started_at, completed_at, updated_at)
  select
    (lpad(to_hex(g), 8, '0') || '-0000-7000-8000-' || lpad(to_hex(g), 12, '0'))::uuid,
    case when g % 4 = 0 then 'newsletter-extract' else 'extract-text' end,
    'default',
    jsonb_build_object('n', g),
    s.status,
    case when s.status = 'completed' then 100 else 0 end,
    case when s.status = 'pending' then 0 else 1 end,
    4, (g % 3), now() - interval '30 days' + g * interval '2 seconds',
    'user' || (g % 1000),
    's3://bucket/files/' || g || '.pdf',
    case when g % 4 = 0 then 'user' || (g % 1000) end,
    case when g % 4 = 0 then 2 end,
    case when s.status = 'processing' then 'host:1' end,
    case when s.status = 'processing' then now() + interval '30 seconds' end,
    case when s.status = 'pending' then 0 else 1 end,
    now() - interval '30 days' + g * interval '2 seconds',
    case when s.status <> 'pending' then now() - interval '30 days' + g * interval '2 seconds' end,
    case when s.status in ('completed', 'failed', 'cancelled') then now() - interval '30 days' + g * interval '2 seconds' + interval '40 seconds' end,
    now()
  from generate_series(1, ${rows}) g,
  lateral (select case
    when g > ${rows} - 50000 then 'pending'
    when g > ${rows} - 50300 then 'processing'
    when g % 50 = 0 then 'failed'
    when g % 97 = 0 then 'cancelled'
    else 'completed' end as status) s
  -- the unique live-key index would refuse nothing here: every key is different
`)
await pool.query(`alter table ${schema}.jobs enable trigger user`)
await pool.query(`vacuum analyze ${schema}.jobs`)
console.log(`${rows.toLocaleString("en")} rows in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`)

const lastPending = `(lpad(to_hex(${rows}), 8, '0') || '-0000-7000-8000-' || lpad(to_hex(${rows}), 12, '0'))::uuid`
const queries: Array<[string, string]> = [
  ["claim: candidates (inside the claim function)", `
    select j.id, j.group_key, j.group_limit, j.priority, j.run_at from ${schema}.jobs j
    where j.status in ('pending', 'retrying') and j.queue = 'default'
      and j.type = any(array['newsletter-extract', 'extract-text']) and j.run_at <= now()
      and (j.group_key is null or not (j.group_key = any(array['user4', 'user8'])))
    order by j.priority desc, j.run_at, j.id limit 56`],
  ["claim: full groups", `
    select group_key from ${schema}.jobs where status = 'processing' and group_key is not null
    group by group_key having count(*) >= max(group_limit)`],
  ["claim: whole function (claims 10)", `
    select id from ${schema}.claim(array['default'], array['newsletter-extract', 'extract-text'], 'plans', 10, 30000, now())`],
  ["get by id", `select * from ${schema}.jobs where id = ${lastPending}`],
  ["find by key", `
    select * from ${schema}.jobs where type = 'extract-text' and key = 's3://bucket/files/123457.pdf' order by id desc limit 1`],
  ["list by owner (first page)", `select * from ${schema}.jobs where owner = 'user42' order by id desc limit 51`],
  ["list by owner and status", `
    select * from ${schema}.jobs where owner = 'user42' and status = any(array['pending', 'processing']) order by id desc limit 51`],
  // the view's count (store/Position.ts, migration 0041's position_place, as 0040's job_view_flat4) for a job past the cap with no
  // boundary read yet, its statements with the job's values: the highest higher priority with a claimable
  // job (one descent of jobs_claim; when there is none, the same-priority range's count in the same
  // statement), then per higher priority, highest first, its due jobs (a range ending at the first job
  // not due) and its limited ones (jobs_claim_limited), then the same-priority range (after 0 counted here)
  ["view: the next higher priority (last of 50,000 pending)", `
    select (select o.priority from ${schema}.jobs o
        where o.queue = j.queue and o.status in ('pending', 'retrying') and o.priority > j.priority
        order by o.priority desc, o.run_at, o.id limit 1) as p
    from ${schema}.jobs j where j.id = ${lastPending}`],
  ["view: one higher priority's due jobs, and its limited ones (last of 50,000 pending)", `
    select (select count(*)::int from (select 1 from ${schema}.jobs o
          where o.queue = j.queue and o.status in ('pending', 'retrying') and o.priority = j.priority + 1 and o.run_at <= now()
          order by o.priority desc, o.run_at, o.id limit 1000) o) as n,
      (select coalesce(bool_or(o.group_key is distinct from j.group_key), false) from (select o.group_key from ${schema}.jobs o
          where o.queue = j.queue and o.status in ('pending', 'retrying') and o.priority = j.priority + 1 and o.run_at <= now()
            and o.group_key is not null and o.group_limit is not null
          order by o.priority desc, o.run_at, o.id limit 1000) o) as other
    from ${schema}.jobs j where j.id = ${lastPending}`],
  ["view: the same-priority range (last of 50,000 pending)", `
    select case when exists (select 1 from (select o.group_key from ${schema}.jobs o
          where o.queue = j.queue and o.status in ('pending', 'retrying') and o.priority = j.priority
            and (o.run_at, o.id) < (j.run_at, j.id) and o.group_key is not null and o.group_limit is not null
          order by o.priority desc, o.run_at, o.id limit 1000) o
        where o.group_key is distinct from j.group_key) then -1
      else least(1000, (select count(*)::int from (select 1 from ${schema}.jobs o
          where o.queue = j.queue and o.status in ('pending', 'retrying') and o.priority = j.priority
            and (o.run_at, o.id) < (j.run_at, j.id)
          order by o.priority desc, o.run_at, o.id limit 1000) s)) end as counted
    from ${schema}.jobs j where j.id = ${lastPending}`],
  ["recover expired leases", `
    select id from ${schema}.jobs where status = 'processing' and locked_until <= now()`],
  ["prune (finished before 7 days ago)", `
    select count(*) from ${schema}.jobs where status in ('completed', 'failed', 'cancelled')
      and completed_at < now() - interval '7 days'`]
]
for (const [name, text] of queries) {
  await pool.query(text) // warm
  const plan = await pool.query(`explain (analyze, costs off, timing on, summary on) ${text}`)
  console.log(`### ${name}\n\n\`\`\`\n${plan.rows.map((r: Record<string, string>) => r["QUERY PLAN"]).join("\n")}\n\`\`\`\n`)
}
await pool.query(`drop schema if exists ${schema} cascade`)
await db.destroy()
