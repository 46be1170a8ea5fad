/**
 * Migration 0041: a view that counts nothing costs a statement, not a
 * PL/pgSQL call (issue 13, item 2).
 *
 * 0040's `job_view_flat4` is a PL/pgSQL function: every view, of a completed
 * job or of a pending one proved past the cap by the process's boundary
 * (`store/PositionBoundary.ts`), paid the function's call and its statement's
 * executor, and a completed job's view read the departures sequence too.
 * Those views are most views (past the first 1,000 places of a long queue,
 * and every job that is not pending).
 *
 * `job_view5(id, t, bounds)` is a SQL function of one `select`, which the
 * planner inlines into the caller's statement (a SQL function that is
 * `stable`, not `strict`, without `SET` clauses): the row, its steps, and for
 * a pending job only, the departures count and the boundary's proof, in the
 * same statement; only a pending job that the boundary does not place past
 * the cap calls `position_place(queue, priority, run_at, id, group_key, t)`,
 * which counts as `job_view_flat4` counts (the same statements, the same
 * planner settings on the function, `[walked, counted]`). The columns and
 * positions are `job_view_flat4`'s (`viewFlat3.test.ts`); the count reads the
 * snapshot of the view's statement, as before (a `stable` function).
 *
 * `job_view_flat4` and the earlier views stay for processes of the previous
 * versions during a rolling upgrade (prepared statements name them). Down
 * drops the two new functions.
 *
 * @since 0.2.0
 */
import { sql } from "../kyselyModule.js"
import type { Kysely } from "kysely"
import { jobColumns } from "./v0029.js"

/** 0040's count (its statements, for the function's arguments named as the job's columns were there). */
const count = (s: string): string => {
  const claimable = `o.queue = queue and o.status in ('pending', 'retrying')`
  const order = `order by o.priority desc, o.run_at, o.id`
  const next = (below: string) => `(select o.priority from "${s}".jobs o
                where ${claimable} and o.priority > priority${below} ${order} limit 1)`
  const same = `${claimable} and o.priority = priority and (o.run_at, o.id) < (v_until, v_id)`
  const one = `${claimable} and o.priority = v_p and o.run_at <= p_t`
  const sameRange = `case when exists (select 1 from (select o.group_key from "${s}".jobs o
                  where ${same} and o.group_key is not null and o.group_limit is not null ${order} limit 1000) o
                where o.group_key is distinct from group_key) then -1
              else least(1000, v_n + (select count(*)::int from (select 1 from "${s}".jobs o
                where ${same} ${order} limit 1000 - v_n) o)) end`
  return `
      -- [walked, counted] of a pending job not behind its queue's boundary: job_view_flat4's count (migration 0040)
      create function "${s}".position_place(queue text, priority int, run_at timestamptz, p_id uuid, group_key text,
        p_t timestamptz)
        returns int[] language plpgsql stable
        set plan_cache_mode = force_generic_plan set enable_sort = off set enable_bitmapscan = off set jit = off as $fn$
      #variable_conflict use_variable
      declare
        c int[];
        walked int;
        v_until timestamptz;
        v_id uuid;
        v_p int;
        v_n int := 0;
        v_l int := 0;
        v_c int;
        v_lc int;
        v_other boolean := false;
      begin
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
        else
          c := array[walked, walked];
        end if;
        return c;
      end
      $fn$;`
}

/** The view's one `select` (inlined into the caller's statement): row, steps, and a pending job's position. */
const view = (s: string): string => `
      -- the job's columns, its steps, and when pending its position: behind the boundary, or counted by position_place
      create function "${s}".job_view5(p_id uuid, p_t timestamptz, p_bounds jsonb)
        returns table (${jobColumns.map(([name, type]) => `${name} ${type}`).join(", ")},
          steps jsonb, departed bigint, behind boolean, walked int, counted int)
        language sql stable as $fn$
        select ${jobColumns.map(([name]) => `x.${name}`).join(", ")},
          (select coalesce(jsonb_agg(to_jsonb(st) - 'result' - 'job_id' order by st.idx), '[]'::jsonb)
            from "${s}".job_steps st where st.job_id = x.id),
          p.departed, p.behind, p.c[1], p.c[2]
        from "${s}".jobs x
        left join lateral (
          -- a pending job only (a one-time filter: nothing here runs for any other)
          select d.departed, d.behind,
            case when not d.behind then "${s}".position_place(x.queue, x.priority, x.run_at, x.id, x.group_key, p_t) end as c
          from (
            -- after the boundary's claim key (priority desc, run_at, id), and no more left than it allows
            select d.departed, d.b is not null and d.departed <= (d.b ->> 3)::bigint
                and row(-x.priority::bigint, (extract(epoch from x.run_at) * 1000000)::bigint, x.id)
                  > row(-(d.b ->> 0)::bigint, (d.b ->> 1)::bigint, (d.b ->> 2)::uuid) as behind
            from (
              select coalesce(pg_sequence_last_value('"${s}".claimable_left'::regclass), 0) as departed,
                p_bounds -> x.queue as b
              where x.status = 'pending' offset 0
            ) d offset 0
          ) d
        ) p on true
        where x.id = p_id
      $fn$;`

/** @internal */
export const v0041 = (s: string): {
  readonly up: (db: Kysely<unknown>) => Promise<void>
  readonly down: (db: Kysely<unknown>) => Promise<void>
} => ({
  up: async (db) => {
    await sql.raw(count(s)).execute(db)
    await sql.raw(view(s)).execute(db)
  },
  down: async (db) => {
    await sql.raw(`
      drop function if exists "${s}".job_view5(uuid, timestamptz, jsonb);
      drop function if exists "${s}".position_place(text, int, timestamptz, uuid, text, timestamptz);`).execute(db)
  }
})
