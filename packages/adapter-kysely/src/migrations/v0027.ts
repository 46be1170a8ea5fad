/**
 * Migration 0027: a job's view costs a get, its steps, and its position only
 * (issue 13, item 2).
 *
 * Measured per view, with the server's CPU (`bench/src/workloads/
 * queuePosition.ts`, docs/benchmarks.md): most of what 0023's `view_row`
 * added to a get was not the position but the call around it. Each view is
 * its own transaction, so PL/pgSQL pays per call, not once per connection,
 * for each statement it runs (locks, executor start) and each expression it
 * evaluates first in the transaction; and `view_row` set four planner
 * settings on every call (saved and restored each time), read the row and
 * then its steps in two statements, and counted the jobs ahead through an
 * append of two ordered scans under a third limit.
 *
 * `job_view(id, t, bounds)` returns what `view_row(id, t, bounds)` returned
 * (`departed` as bigint):
 *
 * - the row and its steps in one statement (two probes by primary key), with
 *   no planner settings: a view of a job that is not pending, or that the
 *   process's boundary proves past the cap (the proof as in 0023), runs
 *   nothing else;
 * - otherwise `position_count(queue, priority, run_at, id, group_key, t)`,
 *   which carries 0023's settings (planned once per connection, each range
 *   read in claim order from `jobs_claim` and stopped by its limit, no JIT):
 *   each of the two ranges ahead (a higher priority; the same priority and an
 *   earlier `(run_at, id)`) counted by its own scan stopped at 1,000, with
 *   nothing between the index scan and the count but the limit. Another
 *   limited group's job among them sends the count to 0023's
 *   `position_walk`, as before (a job of a group past the first 1,000 may send
 *   it there too: the walk is exact either way).
 *
 * A get is planned on every call (it is not a prepared statement); this view's
 * statement is a call of `job_view`, trivial to plan, and the statements in
 * it are planned once per connection. Putting the view in the get's statement
 * shape (`select j.*, f(j.…) from jobs j where j.id = $1`) measured slower:
 * that statement is planned like the get, on every call.
 *
 * 0023's `view_row(id, t, bounds)` stays for processes of the previous
 * version during a rolling upgrade; `position_walk` is still used. Down drops
 * the two new functions.
 *
 * @since 0.2.0
 */
import { sql } from "../kyselyModule.js"
import type { Kysely } from "kysely"

/** @internal */
export const v0027 = (s: string): {
  readonly up: (db: Kysely<unknown>) => Promise<void>
  readonly down: (db: Kysely<unknown>) => Promise<void>
} => {
  // another limited group's job: it counts only while its group has room (position_walk)
  const another = `o.group_key is not null and o.group_limit is not null and o.group_key is distinct from p_group_key`
  return {
    up: async (db) => {
      await sql.raw(`
      -- [walked, counted] over the first 1,000 claimable jobs ahead of the job, in claim order
      create function "${s}".position_count(p_queue text, p_priority int, p_run_at timestamptz, p_id uuid,
        p_group_key text, p_t timestamptz)
        returns int[] language plpgsql stable
        set plan_cache_mode = force_generic_plan set enable_sort = off set enable_bitmapscan = off set jit = off as $fn$
      declare
        walked int;
        others int;
        more int;
        more_others int;
        j "${s}".jobs;
        c int[];
      begin
        -- a higher priority
        select count(*)::int, count(*) filter (where ${another})::int into walked, others
        from (select o.group_key, o.group_limit from "${s}".jobs o
          where o.queue = p_queue and o.status in ('pending', 'retrying') and o.run_at <= p_t
            and o.priority > p_priority
          order by o.priority desc, o.run_at, o.id limit 1000) o;
        -- the same priority, an earlier (run_at, id)
        if walked < 1000 then
          select count(*)::int, count(*) filter (where ${another})::int into more, more_others
          from (select o.group_key, o.group_limit from "${s}".jobs o
            where o.queue = p_queue and o.status in ('pending', 'retrying') and o.run_at <= p_t
              and o.priority = p_priority and (o.run_at, o.id) < (p_run_at, p_id)
            order by o.priority desc, o.run_at, o.id limit 1000) o;
          -- past 1,000 some of them are not among the first 1,000: others only sends to the walk
          walked := least(1000, walked + more);
          others := others + more_others;
        end if;
        if others = 0 then
          return array[walked, walked];
        end if;
        j.queue := p_queue;
        j.priority := p_priority;
        j.run_at := p_run_at;
        j.id := p_id;
        j.group_key := p_group_key;
        c := "${s}".position_walk(j, p_t, 1000);
        if c[1] >= 1000 and c[2] < 1000 then
          c := "${s}".position_walk(j, p_t, 10000);
        end if;
        return c;
      end
      $fn$;

      -- the job's row, its steps, and when pending its position: behind the boundary, or counted
      create function "${s}".job_view(p_id uuid, p_t timestamptz, p_bounds jsonb)
        returns table (job "${s}".jobs, steps jsonb, departed bigint, behind boolean, walked int, counted int)
        language plpgsql stable as $fn$
      declare
        r record;
        b jsonb;
        c int[];
      begin
        -- one statement for the row and its steps
        select x as j, (select coalesce(jsonb_agg(to_jsonb(st) - 'result' - 'job_id' order by st.idx), '[]'::jsonb)
            from "${s}".job_steps st where st.job_id = p_id) as s
          into r from "${s}".jobs x where x.id = p_id;
        if not found then
          return;
        end if;
        job := r.j;
        steps := r.s;
        if (job).status = 'pending' then
          departed := coalesce(pg_sequence_last_value('"${s}".claimable_left'::regclass), 0);
          b := p_bounds -> (job).queue;
          -- after the boundary's claim key (priority desc, run_at, id), and no more left than it allows
          behind := b is not null and departed <= (b ->> 3)::bigint
            and row(-(job).priority::bigint, (extract(epoch from (job).run_at) * 1000000)::bigint, p_id)
              > row(-(b ->> 0)::bigint, (b ->> 1)::bigint, (b ->> 2)::uuid);
          if not behind then
            c := "${s}".position_count((job).queue, (job).priority, (job).run_at, p_id, (job).group_key, p_t);
            walked := c[1];
            counted := c[2];
          end if;
        end if;
        return next;
      end
      $fn$;`).execute(db)
    },
    down: async (db) => {
      await sql.raw(`
      drop function if exists "${s}".job_view(uuid, timestamptz, jsonb);
      drop function if exists "${s}".position_count(text, int, timestamptz, uuid, text, timestamptz);`).execute(db)
    }
  }
}
