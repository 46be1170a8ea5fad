/**
 * job_view5 (migration 0041), job_view_flat4 (0040) and job_view_flat3 (0038) answer as
 * job_view_flat (0029) and job_view_flat2 (0035), whole rows, for every job
 * of mixed data: run_at at the view's time, one microsecond either side, past
 * and future; several priorities, with jobs of higher priorities not due yet;
 * limited and unlimited groups, with and without room, behind and among
 * future jobs of higher priorities, more than 1,000 of them; every status; a
 * queue past the cap. 0040's position_count2 answers as 0027's
 * position_count for every claimable job of the queues with groups. Then a
 * brute-force count for the queues without groups. (From review1's
 * comparison of 0035.)
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
    it("view5 = flat4 = flat3 = flat2 = flat for every job", async () => {
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
        from generate_series(1, 1300) g;
        -- queue 'm': limited groups (with room: 'room', limit 5,000; without: 'full', limit 2, two of its jobs
        -- processing; 'two', limit 2) at priority 0, 1,300 due; priorities 1 to 3 mostly not due yet (limited
        -- ones too), a few due; every job the view reaches goes through the group-aware count
        insert into ${s}.jobs (id, type, queue, payload, status, max_attempts, priority, run_at, created_at, updated_at,
          group_key, group_limit)
        select gen_random_uuid(), 't', 'm', '{}',
          case when g > 4990 then 'processing' when g % 2 = 0 then 'pending' else 'retrying' end, 1,
          case when g <= 1300 then 0 else 1 + (g % 3) end,
          case when g <= 1300 then '${T}'::timestamptz - interval '1 hour' + g * interval '1 ms'
            when g % 40 = 0 then '${T}'::timestamptz - g * interval '1 ms'
            when g % 40 = 1 then '${T}'::timestamptz
            else '${T}'::timestamptz + g * interval '1 ms' end, now(), now(),
          case when g > 4990 then 'full' when g % 4 = 0 then 'room' when g % 4 = 1 then 'full'
            when g % 8 = 2 then 'two' end,
          case when g > 4990 or g % 4 = 1 then 2 when g % 4 = 0 then 5000 when g % 8 = 2 then 2 end
        from generate_series(1, 4992) g;`).execute(database.db)
      const { rows } = await sql.raw<{ id: string; a: string; b: string; c: string; d: string; e: string }>(`
        select j.id,
          (select row_to_json(f)::text from ${s}.job_view_flat(j.id, '${T}', null) f) as a,
          (select row_to_json(f)::text from ${s}.job_view_flat2(j.id, '${T}', null) f) as b,
          (select row_to_json(f)::text from ${s}.job_view_flat3(j.id, '${T}', null) f) as c,
          (select row_to_json(f)::text from ${s}.job_view_flat4(j.id, '${T}', null) f) as d,
          (select row_to_json(f)::text from ${s}.job_view5(j.id, '${T}', null) f) as e
        from ${s}.jobs j order by j.id`).execute(database.db)
      const differ = rows.filter((r) => r.a !== r.c || r.b !== r.c || r.d !== r.c || r.e !== r.c)
      assert.deepStrictEqual(differ.slice(0, 5), [], `${differ.length} of ${rows.length} differ`)
      // with a boundary (0041 proves "behind" in its SQL statement, 0040 in PL/pgSQL): a valid one for 'c' at
      // its 1,001st due job, an expired one for 'h' (no more jobs may have left than -1; its first 300 jobs)
      const { rows: withBounds } = await sql.raw<{ id: string; d: string; e: string }>(`
        with k as (
          select queue, jsonb_build_array(priority, ((extract(epoch from run_at) * 1000000)::bigint)::text, id,
            case when queue = 'c' then 1000000000 else -1 end) as key
          from (select o.*, row_number() over (partition by o.queue order by o.priority desc, o.run_at, o.id) as place
            from ${s}.jobs o where o.queue in ('c', 'h') and o.status in ('pending', 'retrying')
              and o.run_at <= '${T}') o
          where place = 1001
        ), b as (select jsonb_object_agg(queue, key) as bounds from k)
        select j.id,
          (select row_to_json(f)::text from ${s}.job_view_flat4(j.id, '${T}', b.bounds) f) as d,
          (select row_to_json(f)::text from ${s}.job_view5(j.id, '${T}', b.bounds) f) as e
        from ${s}.jobs j, b
        where j.queue = 'c' or j.id in (select o.id from ${s}.jobs o where o.queue = 'h' order by o.id limit 300)
        order by j.id`).execute(database.db)
      const boundsDiffer = withBounds.filter((r) => r.d !== r.e)
      assert.deepStrictEqual(boundsDiffer.slice(0, 5), [], `${boundsDiffer.length} of ${withBounds.length} differ with bounds`)
      assert.isAbove(withBounds.filter((r) => JSON.parse(r.e).behind === true).length, 1000, "too few views behind the boundary")
      // the group-aware counts themselves, for every claimable job of the queues with groups (due or not)
      const { rows: counts } = await sql.raw<{ id: string; old: Array<number>; new: Array<number> }>(`
        select j.id, ${s}.position_count(j.queue, j.priority, j.run_at, j.id, j.group_key, '${T}') as old,
          ${s}.position_count2(j.queue, j.priority, j.run_at, j.id, j.group_key, '${T}') as new
        from ${s}.jobs j where j.queue in ('a', 'b', 'l', 'm') and j.status in ('pending', 'retrying')
        order by j.id`).execute(database.db)
      const countsDiffer = counts.filter((r) => String(r.old) !== String(r.new))
      assert.deepStrictEqual(countsDiffer.slice(0, 5), [], `${countsDiffer.length} of ${counts.length} differ`)
      assert.isAbove(counts.length, 5000)
      // walks past the first 1,000 (fewer than 1,000 of them count) and counts below what was walked
      assert.isTrue(counts.some((r) => r.new[0]! > 1000), "no walk of 10,000")
      assert.isTrue(counts.some((r) => r.new[0]! > r.new[1]! && r.new[0]! < 1000), "no group-aware count near the head")
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
    }, 600_000)
  })

suite("job_view5 (PGlite)", pgliteDatabase)
describe.skipIf(!url)("pg", () => { suite("job_view5 (PostgreSQL)", async () => postgresDatabase(url!, 2)) })
