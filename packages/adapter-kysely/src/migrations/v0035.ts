/**
 * Migration 0035: a view near the head of its queue counts in its own
 * statement, one key checked per job ahead (issue 13, item 2).
 *
 * Measured per call on PostgreSQL 15 (backend CPU, docs/benchmarks.md,
 * "Queue position (session 7)"), a view of a job within the first 1,000
 * places cost, over a view the boundary proves past the cap, about 17 µs at
 * place 1 and 0.11 µs for each job ahead. 0029's `job_view_flat` reached the
 * count through a nested call of `position_ahead` (its four planner
 * settings, its own executor start); and the count of the same-priority range
 * checked two keys of every job ahead, `run_at <= t` and
 * `(run_at, id) < (job's run_at, id)`, where the second implies the first
 * whenever the viewed job is due.
 *
 * `job_view_flat2(id, t, bounds)` returns what `job_view_flat` returns (the
 * same columns, the same positions):
 *
 * - the count, and the probe of `jobs_claim_limited` for another limited
 *   group's job ahead, are one statement of the view's own function, which
 *   carries 0029's planner settings itself (each costs well under 1 µs per
 *   call; they matter only when a statement is planned, once per
 *   connection); the group-aware count is still 0027's `position_count`;
 * - the same-priority range ends at one key: the job's own `(run_at, id)`
 *   when it is due, else `(t + 1 µs, the nil uuid)`, which is `run_at <= t`
 *   exactly (timestamps have microseconds). So a scan of `jobs_claim` checks
 *   one key per job ahead, not two.
 *
 * Each range is still stopped at 1,000 by a limit: a count bounded by the
 * boundary's key instead would save about as much again (measured), but
 * a burst of jobs enqueued ahead of the boundary (a higher priority, or a
 * `run_at` in the past) would make every view near the head count all of
 * them until the boundary expires.
 *
 * `job_view_flat` and `position_ahead` stay for processes of the previous
 * version during a rolling upgrade (their prepared statements name
 * `job_view_flat`, whose columns no migration changes). `job_view_flat2`
 * lists the columns of `jobs` as 0029 does; a migration that adds a column
 * to `jobs` adds a new view function. Down drops the function.
 *
 * @since 0.2.0
 */
import { sql } from "../kyselyModule.js"
import type { Kysely } from "kysely"
import { jobColumns } from "./v0029.js"

/** @internal */
export const v0035 = (s: string): {
  readonly up: (db: Kysely<unknown>) => Promise<void>
  readonly down: (db: Kysely<unknown>) => Promise<void>
} => {
  // the claimable jobs of a range ahead (a higher priority; the same one and an earlier (run_at, id)),
  // `queue`, `priority`, `group_key` being the function's output variables (the job's)
  const higher = `o.queue = queue and o.status in ('pending', 'retrying') and o.run_at <= p_t and o.priority > priority`
  const same = `o.queue = queue and o.status in ('pending', 'retrying')
                and o.priority = priority and (o.run_at, o.id) < (v_until, v_id)`
  const order = `order by o.priority desc, o.run_at, o.id`
  // another limited group's job among the first 1,000 limited ones of a range (jobs_claim_limited)
  const another = (range: string) => `exists (select 1 from (select o.group_key from "${s}".jobs o
                where ${range} and o.group_key is not null and o.group_limit is not null ${order} limit 1000) o
              where o.group_key is distinct from group_key)`
  const count = (range: string) => `(select count(*)::int from (select 1 from "${s}".jobs o
              where ${range} ${order} limit 1000) o)`
  return {
    up: async (db) => {
      await sql.raw(`
      -- the job's columns, its steps, and when pending its position: behind the boundary, or counted here
      create function "${s}".job_view_flat2(p_id uuid, p_t timestamptz, p_bounds jsonb)
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
            -- one statement: -1 when another limited group's job is ahead (it does not start first
            -- while its group has no room), else the count of both ranges, each stopped at 1,000
            select case when ${another(higher)} or ${another(same)} then -1
                else least(1000, ${count(higher)} + ${count(same)}) end
              into walked;
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
      await sql.raw(`drop function if exists "${s}".job_view_flat2(uuid, timestamptz, jsonb);`).execute(db)
    }
  }
}
