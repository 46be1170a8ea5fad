/**
 * Migration 0042: a view reads a job's steps only when the job can have any
 * (issue 13, item 2).
 *
 * 0041's `job_view5` read the steps in a subquery of its statement for every
 * job. A subquery is set up at each execution of the statement whether or
 * not it runs (an aggregate over a bitmap scan of `job_steps`), and it was
 * the largest part of what a view cost more than a get. A step is written
 * only under a lease (`store/Steps.ts`: the job processing with the lease's
 * token), and a claim bumps the token from 0, so a job whose token is 0 was
 * never claimed and has no steps: most pending jobs. The store's view
 * (`store/Position.ts`, one statement on `jobs`, no longer `job_view5`) calls
 * `job_steps_of(id)` only for a job whose token is not 0: a PL/pgSQL function
 * (its statement planned once per connection), so a job with token 0 costs
 * the call's reference, not a subquery's executor. Its value is
 * `job_view5`'s `steps` column: the steps in `idx` order, `result` and
 * `job_id` left out, `[]` when there are none.
 *
 * `job_view5` and the earlier views stay for processes of the previous
 * versions during a rolling upgrade. Down drops the function.
 *
 * @since 0.2.0
 */
import { sql } from "../kyselyModule.js"
import type { Kysely } from "kysely"

/** @internal */
export const v0042 = (s: string): {
  readonly up: (db: Kysely<unknown>) => Promise<void>
  readonly down: (db: Kysely<unknown>) => Promise<void>
} => ({
  up: async (db) => {
    await sql.raw(`
      -- a job's steps as its view shows them (job_view5's steps column)
      create function "${s}".job_steps_of(p_id uuid) returns jsonb language plpgsql stable as $fn$
      begin
        return (select coalesce(jsonb_agg(to_jsonb(st) - 'result' - 'job_id' order by st.idx), '[]'::jsonb)
          from "${s}".job_steps st where st.job_id = p_id);
      end
      $fn$;`).execute(db)
  },
  down: async (db) => {
    await sql.raw(`drop function if exists "${s}".job_steps_of(uuid);`).execute(db)
  }
})
