/**
 * Migration 0023: a pending job's view, position included, in one call
 * planned once per connection (issue 13, item 2 at the tail).
 *
 * Before, `view_row(id)` (migration 0017) read the row, and a job not proved
 * past the cap by its queue's boundary then cost a second query: an ad hoc
 * walk of up to 1,000 rows of `jobs_claim`, planned on every call (about as
 * long as running it) and a round trip more. Those views, a tenth of the
 * first 1,500 places, were the view's p99.
 *
 * `view_row(id, t, bounds)` does it all in one PL/pgSQL call, its statements
 * planned once per connection (`plan_cache_mode = force_generic_plan`: a
 * custom plan per job would be planned again on every call). A generic plan
 * knows no job's place, and at 10,000 jobs it chose to read the whole range
 * ahead with a bitmap scan and sort it (a job at place 9,000 would sort 9,000
 * rows); `enable_sort` and `enable_bitmapscan` are off in these functions so
 * that each range is read in claim order from `jobs_claim` and stops at the
 * limit, whatever the estimates. `jit` is off too: the group walk's window
 * still sorts, a disabled sort adds 10^10 to a plan's cost, and above
 * `jit_above_cost` PostgreSQL compiled the statement on every call (0.7-1.2 s
 * per view of a job behind another group's waiting jobs):
 *
 * - the row and its steps, as `view_row(id)` returned them;
 * - when pending, the count of jobs that left the claimable set
 *   (`claimable_left`, migration 0010) as `departed`;
 * - `behind`: the job is past the cap, proved by the process's boundary of its
 *   queue (`bounds`, a JSON object of queue → `[priority, run_at in µs, id,
 *   last valid departed]`, see `store/PositionBoundary.ts`): after that claim
 *   key, and no more jobs left than the boundary allows;
 * - otherwise `walked` and `counted`: the first 1,000 claimable jobs ahead in
 *   claim order, counted in one pass of the two index ranges when none of them
 *   is another limited group's job (then each of them starts first); else by
 *   `position_walk`, which counts another group's job only while its group has
 *   room (rule 8, as `claim`), and up to 10,000 ahead (`QueuePosition.reach`)
 *   when fewer than 1,000 of the first 1,000 count.
 *
 * `view_row(uuid)` is left for processes of the previous version during a
 * rolling upgrade. Down drops the two new functions.
 *
 * @since 0.2.0
 */
import { sql } from "../kyselyModule.js"
import type { Kysely } from "kysely"

/** @internal */
export const v0023 = (s: string): {
  readonly up: (db: Kysely<unknown>) => Promise<void>
  readonly down: (db: Kysely<unknown>) => Promise<void>
} => {
  // the claimable jobs ahead of j, in claim order: a higher priority, then the same priority
  // and an earlier (run_at, id); each range read from the front of jobs_claim, stopped by the limit
  const ahead = (columns: string, limit: string) => `
          (select ${columns} from "${s}".jobs o
            where o.queue = j.queue and o.status in ('pending', 'retrying') and o.run_at <= p_t
              and o.priority > j.priority
            order by o.priority desc, o.run_at, o.id limit ${limit})
          union all
          (select ${columns} from "${s}".jobs o
            where o.queue = j.queue and o.status in ('pending', 'retrying') and o.run_at <= p_t
              and o.priority = j.priority and (o.run_at, o.id) < (j.run_at, j.id)
            order by o.priority desc, o.run_at, o.id limit ${limit})`
  return {
    up: async (db) => {
      await sql.raw(`
      -- [walked, counted] over the first p_limit claimable jobs ahead of j: another limited
      -- group's job counts only while its group has room (running + its jobs ahead < limit)
      create function "${s}".position_walk(j "${s}".jobs, p_t timestamptz, p_limit int)
        returns int[] language plpgsql stable
        set plan_cache_mode = force_generic_plan set enable_sort = off set enable_bitmapscan = off set jit = off as $fn$
      declare
        result int[];
      begin
        with w as materialized (
          select * from (${ahead("o.id, o.group_key, o.group_limit, o.priority, o.run_at", "p_limit")}
          ) o limit p_limit
        ), others as (
          select w.group_key, w.group_limit,
            row_number() over (partition by w.group_key order by w.priority desc, w.run_at, w.id) - 1 as before
          from w where w.group_key is not null and w.group_limit is not null and w.group_key is distinct from j.group_key
        ), running as (
          select r.group_key, count(*) as n from "${s}".jobs r
          where r.status = 'processing' and r.group_key in (select others.group_key from others)
          group by r.group_key
        )
        select array[
          (select count(*) from w),
          (select count(*) from w where w.group_key is null or w.group_limit is null or w.group_key = j.group_key)
            + (select count(*) from others left join running on running.group_key = others.group_key
               where others.before + coalesce(running.n, 0) < others.group_limit)
        ]::int[] into result;
        return result;
      end
      $fn$;

      create function "${s}".view_row(p_id uuid, p_t timestamptz, p_bounds jsonb)
        returns table (job "${s}".jobs, steps jsonb, departed text, behind boolean, walked int, counted int)
        language plpgsql stable
        set plan_cache_mode = force_generic_plan set enable_sort = off set enable_bitmapscan = off set jit = off as $fn$
      declare
        j "${s}".jobs;
        b jsonb;
        n bigint;
        others int;
        c int[];
      begin
        select * into j from "${s}".jobs where id = p_id;
        if not found then
          return;
        end if;
        job := j;
        steps := (select coalesce(jsonb_agg(to_jsonb(st) - 'result' - 'job_id' order by st.idx), '[]'::jsonb)
          from "${s}".job_steps st where st.job_id = p_id);
        if j.status = 'pending' then
          n := coalesce(pg_sequence_last_value('"${s}".claimable_left'::regclass), 0);
          departed := n::text;
          b := p_bounds -> j.queue;
          -- after the boundary's claim key (priority desc, run_at, id), and no more left than it allows
          behind := b is not null and n <= (b ->> 3)::bigint
            and row(-j.priority::bigint, (extract(epoch from j.run_at) * 1000000)::bigint, j.id)
              > row(-(b ->> 0)::bigint, (b ->> 1)::bigint, (b ->> 2)::uuid);
          if not behind then
            select count(*)::int,
              count(*) filter (where o.group_key is not null and o.group_limit is not null
                and o.group_key is distinct from j.group_key)::int
              into walked, others
            from (${ahead("o.group_key, o.group_limit", "1000")}
              limit 1000) o;
            counted := walked;
            if others > 0 then
              c := "${s}".position_walk(j, p_t, 1000);
              walked := c[1];
              counted := c[2];
              if walked >= 1000 and counted < 1000 then
                c := "${s}".position_walk(j, p_t, 10000);
                walked := c[1];
                counted := c[2];
              end if;
            end if;
          end if;
        end if;
        return next;
      end
      $fn$;`).execute(db)
    },
    down: async (db) => {
      await sql.raw(`
      drop function if exists "${s}".view_row(uuid, timestamptz, jsonb);
      drop function if exists "${s}".position_walk("${s}".jobs, timestamptz, int);`).execute(db)
    }
  }
}
