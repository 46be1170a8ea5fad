/**
 * job_view_flat3 (migration 0038) answers as job_view_flat (0029) and
 * job_view_flat2 (0035), whole rows, for every job of mixed data: run_at at the
 * view's time, one microsecond either side, past and future; several
 * priorities, with jobs of higher priorities not due yet; limited and
 * unlimited groups; every status; a queue past the cap. Then a brute-force
 * count for the queues without groups. (From review1's comparison of 0035.)
 */
import { afterAll, assert, describe, it } from "vitest"
import { migrate } from "@jobtrack/adapter-kysely"
import { sql } from "kysely"
import { databaseUrl, pgliteDatabase, postgresDatabase, randomSchema } from "./databases.js"
import type { TestDatabase } from "./databases.js"

const url = databaseUrl()

const suite = (name: string, open: () => Promise<TestDatabase>) =>
  describe(name, () => {
    let database: TestDatabase
    afterAll(async () => { await database?.close() })
    it("flat3 = flat2 = flat for every job", async () => {
      database = await open()
      const schema = randomSchema("jt_vf3")
      await migrate(database.db, { schema })
      const s = `"${schema}"`
      const T = "2026-06-01 12:00:00.123456+00"
      // random jobs around T: exactly T, T±1us, past, future; statuses; priorities; groups
      await sql.raw(`
        select setseed(0.42);
        insert into ${s}.jobs (id, type, queue, payload, status, max_attempts, priority, run_at, created_at, updated_at,
          group_key, group_limit, locked_until)
        select gen_random_uuid(), 't', (array['a','b'])[1 + (g % 2)], '{}',
          (array['pending','pending','pending','retrying','processing','completed'])[1 + floor(random()*6)::int],
          1, floor(random()*5)::int - 1,
          (case floor(random()*6)::int
            when 0 then '${T}'::timestamptz
            when 1 then '${T}'::timestamptz + interval '1 microsecond'
            when 2 then '${T}'::timestamptz - interval '1 microsecond'
            when 3 then '${T}'::timestamptz + random() * interval '1 hour'
            else '${T}'::timestamptz - random() * interval '1 hour' end),
          now(), now(),
          case when g % 5 = 0 then 'g' || (g % 3) when g % 7 = 0 then 'u' || (g % 2) end,
          case when g % 5 = 0 then 1 + (g % 2) end,
          now() + interval '1 hour'
        from generate_series(1, 600) g;
        -- a long queue past the cap, with jobs at T and after
        insert into ${s}.jobs (id, type, queue, payload, status, max_attempts, priority, run_at, created_at, updated_at)
        select gen_random_uuid(), 't', 'c', '{}', 'pending', 1, (g % 2), '${T}'::timestamptz - interval '1 hour' + g * interval '1 ms', now(), now()
        from generate_series(1, 2500) g;
        insert into ${s}.jobs (id, type, queue, payload, status, max_attempts, priority, run_at, created_at, updated_at)
        select gen_random_uuid(), 't', 'c', '{}', 'pending', 1, g % 2, '${T}'::timestamptz + (g - 2) * interval '1 microsecond', now(), now()
        from generate_series(0, 4) g;
        -- queue 'h': 1,200 due jobs of priority 0, and of priorities 1 to 4 jobs not due yet (and a few due)
        insert into ${s}.jobs (id, type, queue, payload, status, max_attempts, priority, run_at, created_at, updated_at)
        select gen_random_uuid(), 't', 'h', '{}', (array['pending','retrying'])[1 + (g % 2)], 1,
          case when g <= 1200 then 0 else 1 + (g % 4) end,
          case when g <= 1200 then '${T}'::timestamptz - interval '1 hour' + g * interval '1 ms'
            when g % 50 = 0 then '${T}'::timestamptz - g * interval '1 ms'
            else '${T}'::timestamptz + g * interval '1 ms' end, now(), now()
        from generate_series(1, 3000) g;
        -- queue 'l': limited groups over three priorities, 1,100 of one group at priority 2 (past the probe's 1,000)
        insert into ${s}.jobs (id, type, queue, payload, status, max_attempts, priority, run_at, created_at, updated_at,
          group_key, group_limit)
        select gen_random_uuid(), 't', 'l', '{}', 'pending', 1, case when g <= 1100 then 2 when g <= 1150 then 1 else 0 end,
          '${T}'::timestamptz - interval '1 hour' + g * interval '1 ms', now(), now(),
          case when g <= 1100 then 'big' when g % 3 = 0 then 'other' when g % 3 = 1 then 'big' end,
          case when g % 3 <> 2 or g <= 1100 then 2 end
        from generate_series(1, 1300) g;`).execute(database.db)
      const { rows } = await sql.raw<{ id: string; a: string; b: string; c: string }>(`
        select j.id,
          (select row_to_json(f)::text from ${s}.job_view_flat(j.id, '${T}', null) f) as a,
          (select row_to_json(f)::text from ${s}.job_view_flat2(j.id, '${T}', null) f) as b,
          (select row_to_json(f)::text from ${s}.job_view_flat3(j.id, '${T}', null) f) as c
        from ${s}.jobs j order by j.id`).execute(database.db)
      const differ = rows.filter((r) => r.a !== r.c || r.b !== r.c)
      assert.deepStrictEqual(differ.slice(0, 5), [], `${differ.length} of ${rows.length} differ`)
      // a reference for queue 'c' (no groups): claimable due jobs ahead in claim order, a job not due after every due one
      const { rows: ref } = await sql.raw<{ id: string; want: number; got: number | null }>(`
        select j.id, least(1000, (select count(*) from ${s}.jobs o where o.queue = j.queue and o.status in ('pending','retrying')
            and o.run_at <= '${T}' and (o.priority > j.priority or (o.priority = j.priority and (o.run_at, o.id) < (j.run_at, j.id)))))::int as want,
          (select f.counted from ${s}.job_view_flat3(j.id, '${T}', null) f) as got
        from ${s}.jobs j where j.queue in ('c', 'h') and j.status = 'pending'`).execute(database.db)
      const wrong = ref.filter((r) => r.want !== r.got)
      assert.deepStrictEqual(wrong.slice(0, 5), [], `${wrong.length} of ${ref.length} wrong`)
      assert.isAbove(ref.length, 4000)
      // the mixed data reached each path: counts of 1,000, group-aware counts (position_count), views of the 'l' queue
      assert.isTrue(rows.some((r) => JSON.parse(r.c ?? "null")?.counted === 1000), "no view counted to the cap")
      assert.isTrue(rows.some((r) => { const v = JSON.parse(r.c ?? "null"); return v !== null && v.walked !== v.counted }), "no group-aware count")
    }, 120_000)
  })

suite("job_view_flat3 (PGlite)", pgliteDatabase)
describe.skipIf(!url)("pg", () => { suite("job_view_flat3 (PostgreSQL)", async () => postgresDatabase(url!, 2)) })
