/**
 * Migration 0017: the job view's row in one planned-once function.
 *
 * `view_row(id)` returns the job's row, its steps (a JSON array without
 * results, ordered by index), and, when pending, its exact claim key
 * (`run_at` in microseconds since the epoch, as text) and the count of jobs
 * that left the claimable set (`claimable_left`, migration 0010) — what
 * `store/Position.ts` read in one ad hoc query before. As PL/pgSQL its query
 * is planned once per connection and then reused: the steps subquery and the
 * extra columns cost a get's planning again on every view otherwise (measured
 * with `bench/src/workloads/queuePosition.ts`, docs/benchmarks.md).
 *
 * Down drops the function.
 *
 * @since 0.2.0
 */
import { sql } from "../kyselyModule.js"
import type { Kysely } from "kysely"

/** @internal */
export const v0017 = (s: string): {
  readonly up: (db: Kysely<unknown>) => Promise<void>
  readonly down: (db: Kysely<unknown>) => Promise<void>
} => ({
  up: async (db) => {
    await sql.raw(`
      create function "${s}".view_row(p_id uuid)
        returns table (job "${s}".jobs, steps jsonb, run_at_us text, departed text)
        language plpgsql stable as $fn$
      begin
        return query
          select j,
            (select coalesce(jsonb_agg(to_jsonb(s) - 'result' - 'job_id' order by s.idx), '[]'::jsonb)
              from "${s}".job_steps s where s.job_id = j.id),
            case when j.status = 'pending' then ((extract(epoch from j.run_at) * 1000000)::bigint)::text end,
            case when j.status = 'pending'
              then coalesce(pg_sequence_last_value('"${s}".claimable_left'::regclass), 0)::text end
          from "${s}".jobs j where j.id = p_id;
      end
      $fn$;`).execute(db)
  },
  down: async (db) => {
    await sql.raw(`drop function if exists "${s}".view_row(uuid);`).execute(db)
  }
})
