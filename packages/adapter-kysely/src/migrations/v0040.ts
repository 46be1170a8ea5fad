/**
 * Migration 0040: the group-aware count of a view no longer reads the jobs of
 * higher priorities that are not due yet.
 *
 * 0038's `job_view_flat3` walks the higher priorities one at a time, but when
 * another limited group's job is among the first jobs ahead it still calls
 * 0027's `position_count`, whose count of the higher range (and 0023's
 * `position_walk`, which it calls then) scans `jobs_claim` with
 * `queue = $q and priority > $p` as its index condition and `run_at <= $t`
 * checked on each entry: it read every future-dated claimable job of every
 * higher priority. With limited groups in the queue and 60,000 jobs of
 * priorities 1 to 3 due tomorrow, such a view read every one of their entries.
 *
 * `position_count2(queue, priority, run_at, id, group_key, t)` returns what
 * `position_count` returns (`[walked, counted]`), as `position_walk` counts
 * the first 1,000 jobs ahead (10,000 when fewer than 1,000 of them count):
 * the walk takes the higher priorities one at a time (one descent of
 * `jobs_claim` finds the next, highest first; its due jobs are the range
 * `priority = $x and run_at <= $t`, which ends at the first job not due), read
 * only as far as the walk's limit reaches, then the same priority's jobs
 * before the job. It walks at once, without `position_count`'s count first:
 * that count only proved that no other group's job is among the first 1,000
 * (then the walk's answer is the count), and `job_view_flat4` calls it only
 * when it found one.
 *
 * `job_view_flat4(id, t, bounds)` is `job_view_flat3` (the same columns, the
 * same positions) calling `position_count2`. `job_view_flat3`,
 * `position_count` and the earlier views stay for processes of the previous
 * versions during a rolling upgrade (prepared statements name them). Down
 * drops the two new functions.
 *
 * @since 0.2.0
 */
import { sql } from "../kyselyModule.js"
import type { Kysely } from "kysely"
import { jobColumns } from "./v0029.js"

/** @internal */
export const v0040 = (s: string): {
  readonly up: (db: Kysely<unknown>) => Promise<void>
  readonly down: (db: Kysely<unknown>) => Promise<void>
} => {
  // `queue`, `priority`, `group_key` are the function's output variables (the job's)
  const claimable = `o.queue = queue and o.status in ('pending', 'retrying')`
  // position_count2's (its arguments)
  const walkClaimable = `o.queue = p_queue and o.status in ('pending', 'retrying')`
  const order = `order by o.priority desc, o.run_at, o.id`
  // the highest priority above the job's (and below `below`) with a claimable job, due or not: one descent
  const next = (below: string) => `(select o.priority from "${s}".jobs o
                where ${claimable} and o.priority > priority${below} ${order} limit 1)`
  // the same priority, an earlier (run_at, id) (0035's one key)
  const same = `${claimable} and o.priority = priority and (o.run_at, o.id) < (v_until, v_id)`
  // one higher priority's due jobs: a range that ends at the first job not due
  const one = `${claimable} and o.priority = v_p and o.run_at <= p_t`
  // 0035's statement for the same-priority range, after v_n jobs of higher priorities:
  // -1 when another limited group's job is among the range's first 1,000 limited ones
  const sameRange = `case when exists (select 1 from (select o.group_key from "${s}".jobs o
                  where ${same} and o.group_key is not null and o.group_limit is not null ${order} limit 1000) o
                where o.group_key is distinct from group_key) then -1
              else least(1000, v_n + (select count(*)::int from (select 1 from "${s}".jobs o
                where ${same} ${order} limit 1000 - v_n) o)) end`
  return {
    up: async (db) => {
      await sql.raw(`
      -- [walked, counted] over the first 1,000 claimable jobs ahead of the job, in claim order, as 0027's
      -- position_count (and 0023's position_walk) count them, the higher priorities one at a time
      create function "${s}".position_count2(p_queue text, p_priority int, p_run_at timestamptz, p_id uuid,
        p_group_key text, p_t timestamptz)
        returns int[] language plpgsql stable
        set plan_cache_mode = force_generic_plan set enable_sort = off set enable_bitmapscan = off set jit = off as $fn$
      declare
        v_limit int := 1000;
        c int[];
      begin
        loop
          with recursive p (priority) as (
            -- the higher priorities with a claimable job, highest first, one descent of jobs_claim each (due or
            -- not: a skip scan), read only as the walk reaches them
            (select o.priority from "${s}".jobs o
              where ${walkClaimable} and o.priority > p_priority ${order} limit 1)
            union all
            select (select o.priority from "${s}".jobs o
                where ${walkClaimable} and o.priority > p_priority and o.priority < p.priority ${order} limit 1)
            from p where p.priority is not null
          ), w as materialized (
            -- the first v_limit due jobs ahead in claim order: each higher priority's due jobs (a range that ends
            -- at the first job not due), then the same priority's before the job (0023's second range)
            select * from (
              (select o.id, o.group_key, o.group_limit, o.priority, o.run_at from p cross join lateral (
                select o.id, o.group_key, o.group_limit, o.priority, o.run_at from "${s}".jobs o
                where ${walkClaimable} and o.priority = p.priority and o.run_at <= p_t ${order} limit v_limit) o
                where p.priority is not null)
              union all
              (select o.id, o.group_key, o.group_limit, o.priority, o.run_at from "${s}".jobs o
                where ${walkClaimable} and o.run_at <= p_t and o.priority = p_priority
                  and (o.run_at, o.id) < (p_run_at, p_id)
                ${order} limit v_limit)
            ) o limit v_limit
          ), others as (
            -- 0023's position_walk from here: another limited group's job counts only while its group has room
            select w.group_key, w.group_limit,
              row_number() over (partition by w.group_key order by w.priority desc, w.run_at, w.id) - 1 as before
            from w where w.group_key is not null and w.group_limit is not null and w.group_key is distinct from p_group_key
          ), running as (
            select r.group_key, count(*) as n from "${s}".jobs r
            where r.status = 'processing' and r.group_key in (select others.group_key from others)
            group by r.group_key
          )
          select array[
            (select count(*) from w),
            (select count(*) from w where w.group_key is null or w.group_limit is null or w.group_key = p_group_key)
              + (select count(*) from others left join running on running.group_key = others.group_key
                 where others.before + coalesce(running.n, 0) < others.group_limit)
          ]::int[] into c;
          -- as position_count: past the first 1,000 when fewer than 1,000 of them count
          exit when v_limit > 1000 or not (c[1] >= 1000 and c[2] < 1000);
          v_limit := 10000;
        end loop;
        return c;
      end
      $fn$;`).execute(db)
      await sql.raw(`
      -- the job's columns, its steps, and when pending its position: behind the boundary, or counted here
      create function "${s}".job_view_flat4(p_id uuid, p_t timestamptz, p_bounds jsonb)
        returns table (${jobColumns.map(([name, type]) => `${name} ${type}`).join(", ")},
          steps jsonb, departed bigint, behind boolean, walked int, counted int)
        language plpgsql stable
        set plan_cache_mode = force_generic_plan set enable_sort = off set enable_bitmapscan = off set jit = off as $fn$
      #variable_conflict use_variable
      declare
        b jsonb;
        c int[];
        v_until timestamptz;
        v_id uuid;
        v_p int;
        v_n int := 0;
        v_l int := 0;
        v_c int;
        v_lc int;
        v_other boolean := false;
      begin
        -- one statement for the row and its steps, into the output columns (every column qualified)
        select ${jobColumns.map(([name]) => `x.${name}`).join(", ")},
            (select coalesce(jsonb_agg(to_jsonb(st) - 'result' - 'job_id' order by st.idx), '[]'::jsonb)
              from "${s}".job_steps st where st.job_id = p_id)
          into ${jobColumns.map(([name]) => name).join(", ")}, steps
          from "${s}".jobs x where x.id = p_id;
        if not found then
          return;
        end if;
        if status = 'pending' then
          departed := coalesce(pg_sequence_last_value('"${s}".claimable_left'::regclass), 0);
          b := p_bounds -> queue;
          -- after the boundary's claim key (priority desc, run_at, id), and no more left than it allows
          behind := b is not null and departed <= (b ->> 3)::bigint
            and row(-priority::bigint, (extract(epoch from run_at) * 1000000)::bigint, p_id)
              > row(-(b ->> 0)::bigint, (b ->> 1)::bigint, (b ->> 2)::uuid);
          if not behind then
            -- where the same-priority range ends: before the job when it is due, else after every due job
            if run_at <= p_t then
              v_until := run_at;
              v_id := p_id;
            else
              v_until := p_t + interval '1 microsecond';
              v_id := '00000000-0000-0000-0000-000000000000';
            end if;
            -- the highest higher priority with a claimable job; when there is none, the count (0035's)
            select x.p, case when x.p is null then ${sameRange} end into v_p, walked
              from (select ${next("")} as p offset 0) x;
            -- else the higher priorities one at a time, highest first: each one's due jobs (up to 1,000 in
            -- all) and its limited ones (another group's among the first 1,000 in all), and the next one
            while v_p is not null loop
              select (select count(*)::int from (select 1 from "${s}".jobs o where ${one} ${order}
                  limit 1000 - v_n) o),
                  l.n, l.other, ${next(" and o.priority < v_p")}
                into v_c, v_lc, v_other, v_p
                from (select count(*)::int as n, coalesce(bool_or(o.group_key is distinct from group_key), false) as other
                  from (select o.group_key from "${s}".jobs o
                    where ${one} and o.group_key is not null and o.group_limit is not null ${order}
                    limit 1000 - v_l) o) l;
              v_n := v_n + v_c;
              v_l := v_l + v_lc;
              exit when v_other or (v_n >= 1000 and v_l >= 1000);
            end loop;
            if v_other then
              walked := -1;
            elsif walked is null then
              -- the same-priority range (no count when the higher ones reached 1,000: limit 0)
              select ${sameRange} into walked;
            end if;
            if walked < 0 then
              c := "${s}".position_count2(queue, priority, run_at, p_id, group_key, p_t);
              walked := c[1];
              counted := c[2];
            else
              counted := walked;
            end if;
          end if;
        end if;
        return next;
      end
      $fn$;`).execute(db)
    },
    down: async (db) => {
      await sql.raw(`
      drop function if exists "${s}".job_view_flat4(uuid, timestamptz, jsonb);
      drop function if exists "${s}".position_count2(text, int, timestamptz, uuid, text, timestamptz);`).execute(db)
    }
  }
}
