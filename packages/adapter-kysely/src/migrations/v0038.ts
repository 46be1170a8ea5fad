/**
 * Migration 0038: a view near the head of its queue no longer reads the jobs
 * of higher priorities that are not due yet.
 *
 * 0029's and 0035's count of the higher-priority range scanned `jobs_claim`
 * with `queue = $q and priority > $p` as its index condition and
 * `run_at <= $t` checked on each entry: a scan that ranges over priority
 * cannot stop at `run_at`, so it read every future-dated claimable job of
 * every higher priority (scheduled jobs, retries waiting out a backoff) to
 * count the due ones. With 100,000 jobs of priority 1 due tomorrow, a view at
 * place 1 of priority 0 read 1,103 buffers (4.7 ms) instead of 14.
 *
 * `job_view_flat3(id, t, bounds)` returns what `job_view_flat2` returns (the
 * same columns, the same positions) and counts the higher range one priority
 * at a time: the next higher priority with a claimable job is one descent of
 * `jobs_claim` (a skip scan, highest first, as claim order walks them), and
 * each priority's due jobs are the range `priority = $x and run_at <= $t`,
 * which ends at the first job not due. So a count reads one index descent per
 * distinct higher priority plus the jobs ahead (at most 1,000), whatever
 * number of jobs is scheduled later. The limited-group probe of
 * `jobs_claim_limited` walks the same way, keeping 0035's rule (another
 * group's job among the first 1,000 limited jobs of the range, in claim
 * order). The walk stops as soon as the answer is known: 1,000 counted and
 * the probe done, or another group's job found (then `position_count`
 * counts, as before). The count of the same-priority range is skipped when
 * the higher ones already reached 1,000.
 *
 * When no higher priority has a claimable job (a queue of one priority), the
 * view runs one statement for its position, as 0035 does: the descent that
 * finds no higher priority and 0035's count of the same-priority range.
 *
 * `job_view_flat` and `job_view_flat2` stay for processes of the previous
 * versions during a rolling upgrade (prepared statements name them). Down
 * drops the function.
 *
 * @since 0.2.0
 */
import { sql } from "../kyselyModule.js"
import type { Kysely } from "kysely"
import { jobColumns } from "./v0029.js"

/** @internal */
export const v0038 = (s: string): {
  readonly up: (db: Kysely<unknown>) => Promise<void>
  readonly down: (db: Kysely<unknown>) => Promise<void>
} => {
  // `queue`, `priority`, `group_key` are the function's output variables (the job's)
  const claimable = `o.queue = queue and o.status in ('pending', 'retrying')`
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
      -- the job's columns, its steps, and when pending its position: behind the boundary, or counted here
      create function "${s}".job_view_flat3(p_id uuid, p_t timestamptz, p_bounds jsonb)
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
              c := "${s}".position_count(queue, priority, run_at, p_id, group_key, p_t);
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
      await sql.raw(`drop function if exists "${s}".job_view_flat3(uuid, timestamptz, jsonb);`).execute(db)
    }
  }
}
