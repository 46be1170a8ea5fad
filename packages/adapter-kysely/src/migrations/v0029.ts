/**
 * Migration 0029: a pending job's view at the cost of a get (issue 13, item 2).
 *
 * Measured per call on PostgreSQL 15 (docs/benchmarks.md, "Queue position
 * (session 6)"), two costs were left in 0027's `job_view` over a get:
 *
 * - Its statement, `select (v.job).*, … from job_view(…) v`, took the row as
 *   one composite column and spread it into 28 field selections, each of
 *   which takes the composite apart from its first column again (about
 *   +35 µs of the server's CPU per view, the whole difference to a get).
 *   `job_view_flat(id, t, bounds)` returns the same columns flat, each one an
 *   output variable of the function assigned by the statement that reads the
 *   row, so the view is `select * from job_view_flat(…)`.
 * - A view that counts (the first 1,000 places) read every job ahead from the
 *   table, for its group columns, about 0.2-0.3 µs a job. `position_ahead`
 *   counts the jobs ahead from `jobs_claim` alone (an index-only scan: no
 *   visit of the table where the visibility map says a page holds only rows
 *   every transaction sees, as autovacuum leaves it), and asks a new partial
 *   index, `jobs_claim_limited`, of the claimable jobs of limited groups only,
 *   whether another group's job is among the first 1,000 of them ahead; only
 *   then does it count through 0027's `position_count` (and 0023's
 *   `position_walk`), which are exact with groups. The new index is empty for
 *   jobs without a limited group (nothing written for them but the check of
 *   its predicate); a limited group's job takes one more index entry at its
 *   enqueue and at each return to pending.
 *
 * Positions are as before: exact for the first 1,000 places (rule 8),
 * "more than 1,000" past them, proved by the process's boundary
 * (`store/PositionBoundary.ts`) or by the count reaching 1,000.
 *
 * `job_view_flat` lists the columns of `jobs` as of this migration: a later
 * migration that adds a column to `jobs` adds a new view function with it
 * (positionBoundary.test.ts, "job_view_flat returns every column of jobs, then
 * the view's own", compares the two) rather than redefining this one, whose
 * result the store's processes hold as a prepared statement (`Prepared.ts`;
 * a prepared statement fails once its result's columns change). 0027's
 * `job_view` stays for processes of the previous version during a rolling
 * upgrade. Building the index reads the table once under a lock that blocks
 * writes to `jobs` (`if not exists`: an operator with a large table may build
 * it beforehand, concurrently; docs/operations.md). Down drops the index and
 * the two functions.
 *
 * @since 0.2.0
 */
import { sql } from "../kyselyModule.js"
import type { Kysely } from "kysely"

/** The columns of `jobs` as of this migration, in table order. */
export const jobColumns: ReadonlyArray<readonly [string, string]> = [
  ["id", "uuid"],
  ["type", "text"],
  ["queue", "text"],
  ["payload", "jsonb"],
  ["result", "jsonb"],
  ["status", "text"],
  ["progress", "double precision"],
  ["progress_message", "text"],
  ["error_message", "text"],
  ["errors", "jsonb"],
  ["attempts", "integer"],
  ["max_attempts", "integer"],
  ["priority", "integer"],
  ["run_at", "timestamptz"],
  ["owner", "text"],
  ["key", "text"],
  ["group_key", "text"],
  ["group_limit", "integer"],
  ["locked_by", "text"],
  ["locked_until", "timestamptz"],
  ["token", "integer"],
  ["cancel_requested", "boolean"],
  ["created_at", "timestamptz"],
  ["started_at", "timestamptz"],
  ["completed_at", "timestamptz"],
  ["next_retry_at", "timestamptz"],
  ["updated_at", "timestamptz"],
  ["traceparent", "text"]
]

/** @internal */
export const v0029 = (s: string): {
  readonly up: (db: Kysely<unknown>) => Promise<void>
  readonly down: (db: Kysely<unknown>) => Promise<void>
} => {
  // the claimable jobs of a range ahead (a higher priority; the same one and an earlier (run_at, id))
  const higher = `o.queue = p_queue and o.status in ('pending', 'retrying') and o.run_at <= p_t and o.priority > p_priority`
  const same = `o.queue = p_queue and o.status in ('pending', 'retrying') and o.run_at <= p_t
            and o.priority = p_priority and (o.run_at, o.id) < (p_run_at, p_id)`
  const order = `order by o.priority desc, o.run_at, o.id`
  // another limited group's job among the first 1,000 limited ones of a range (jobs_claim_limited)
  const another = (range: string) => `exists (select 1 from (select o.group_key from "${s}".jobs o
            where ${range} and o.group_key is not null and o.group_limit is not null ${order} limit 1000) o
          where o.group_key is distinct from p_group_key)`
  const count = (range: string) => `(select count(*)::int from (select 1 from "${s}".jobs o
          where ${range} ${order} limit 1000) o)`
  return {
    up: async (db) => {
      await sql.raw(`
      create index if not exists jobs_claim_limited on "${s}".jobs (queue, priority desc, run_at, id) include (group_key)
        where status in ('pending', 'retrying') and group_key is not null and group_limit is not null;

      -- [walked, counted] over the first 1,000 claimable jobs ahead, in claim order (as position_count):
      -- counted from jobs_claim alone unless another limited group's job is among them
      create function "${s}".position_ahead(p_queue text, p_priority int, p_run_at timestamptz, p_id uuid,
        p_group_key text, p_t timestamptz)
        returns int[] language plpgsql stable
        set plan_cache_mode = force_generic_plan set enable_sort = off set enable_bitmapscan = off set jit = off as $fn$
      declare
        walked int;
      begin
        -- one statement (each one a function runs costs its executor's start and end): -1 when
        -- another limited group's job is ahead, whose job does not start first while its group
        -- has no room; else the count of both ranges (each stopped at 1,000)
        select case when ${another(higher)} or ${another(same)} then -1
          else least(1000, ${count(higher)} + ${count(same)}) end
          into walked;
        if walked < 0 then
          return "${s}".position_count(p_queue, p_priority, p_run_at, p_id, p_group_key, p_t);
        end if;
        return array[walked, walked];
      end
      $fn$;

      -- the job's columns, its steps, and when pending its position: behind the boundary, or counted
      create function "${s}".job_view_flat(p_id uuid, p_t timestamptz, p_bounds jsonb)
        returns table (${jobColumns.map(([name, type]) => `${name} ${type}`).join(", ")},
          steps jsonb, departed bigint, behind boolean, walked int, counted int)
        language plpgsql stable as $fn$
      #variable_conflict use_column
      declare
        b jsonb;
        c int[];
      begin
        -- one statement for the row and its steps, into the output columns
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
            c := "${s}".position_ahead(queue, priority, run_at, p_id, group_key, p_t);
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
      drop function if exists "${s}".job_view_flat(uuid, timestamptz, jsonb);
      drop function if exists "${s}".position_ahead(text, int, timestamptz, uuid, text, timestamptz);
      drop index if exists "${s}".jobs_claim_limited;`).execute(db)
    }
  }
}
