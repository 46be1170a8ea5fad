/**
 * Migration 0019: completions through a PL/pgSQL function, planned once per
 * connection (issue 13, item 3).
 *
 * The runner's completion write (`completeMany`: an `UPDATE … FROM
 * jsonb_to_recordset(…)` with the hook deliveries' `INSERT` in the same
 * statement) was sent as SQL text, so PostgreSQL parsed and planned it at
 * every call — an update of a table with a dozen indexes, a CTE and a
 * subquery. For the runner's small batches that fixed part outweighed the
 * work per job. `complete_many` runs the same statement from PL/pgSQL, which
 * keeps its plan for the connection's life: measured on PostgreSQL 15
 * (`docs/benchmarks.md`, "Round trips per job (session 4)"), the backend's
 * CPU per completed job fell from 0.95 to 0.63 ms for batches of 1 and from
 * 136 to 111 µs for batches of 10.
 *
 * It takes the completions as `completeMany` sent them (a JSON array of
 * `{ id, token, result }`; each fenced on its own: id, token, still
 * processing), records their hook deliveries in the same statement, and
 * answers the ids it completed. It commits as the caller's transaction does
 * (synchronously, by default).
 *
 * Down drops the function.
 *
 * @since 0.2.0
 */
import { sql } from "../kyselyModule.js"
import type { Kysely } from "kysely"

/** @internal */
export const v0019 = (s: string): {
  readonly up: (db: Kysely<unknown>) => Promise<void>
  readonly down: (db: Kysely<unknown>) => Promise<void>
} => ({
  up: async (db) => {
    await sql.raw(`
      create function "${s}".complete_many(p_items jsonb, p_now timestamptz)
      returns table (completed uuid) language plpgsql as $fn$
      begin
        return query
        with moved as (
          update "${s}".jobs j set status = 'completed', result = v.result, progress = 100,
            error_message = null, locked_by = null, locked_until = null, cancel_requested = false,
            completed_at = p_now, updated_at = p_now
          from jsonb_to_recordset(p_items) as v(id uuid, token integer, result jsonb)
          where j.id = v.id and j.token = v.token and j.status = 'processing'
          returning j.*
        ), recorded as (
          insert into "${s}".hook_deliveries (id, job_id, type, event, job, available_at, created_at)
          select gen_random_uuid(), m.id, m.type, m.status, to_jsonb(m), m.updated_at, m.updated_at
          from moved m
          where exists (select 1 from "${s}".hook_subscriptions h where h.type = m.type and h.event = m.status)
        )
        select m.id from moved m;
      end $fn$;`).execute(db)
  },
  down: async (db) => {
    await sql.raw(`drop function if exists "${s}".complete_many(jsonb, timestamptz);`).execute(db)
  }
})
