/**
 * Migration 0039: a job retried or recovered that is due at once is
 * announced to every process, as a job back to `pending` is.
 *
 * `jobs_notify_always` (0022) announces `enqueued` when a job goes back to
 * `pending` (a release). A failure with a retry and a recovered lease set
 * the job to `retrying`, which announced nothing: only the process that
 * wrote it told its own claim loop. Since session 7 a runner whose queues
 * are drained claims again on an announcement or at its poll interval, no
 * longer after each job it finishes, so a retry due at once that another
 * process scheduled (or a lease another process recovered) waited up to a
 * whole poll in a runner with free slots. `jobs_notify_due` announces it as
 * `enqueued` when it is due at once: `run_at` no later than `updated_at`,
 * both written by the same process from its own clock (the failure's retry
 * time and its write time; the recovery's time for both), so no clock is
 * compared with another. A retry with a delay is found by the poll once
 * due, as a delayed enqueue is. The WHEN
 * condition is checked before any function runs, so other updates pay
 * nothing; retries and recoveries are rare beside claims and completions.
 *
 * Down drops the trigger and its function.
 *
 * @since 0.2.0
 */
import { sql } from "../kyselyModule.js"
import type { Kysely } from "kysely"

const up = (s: string) => `
      create function "${s}".notify_due() returns trigger language plpgsql as $fn$
      begin
        perform pg_notify('jobtrack:${s}', json_build_object('i', new.id, 't', new.type, 'q', new.queue,
          'k', 'enqueued', 's', new.status)::text);
        return null;
      end $fn$;
      create trigger jobs_notify_due after update on "${s}".jobs for each row
        when (old.status is distinct from new.status and new.status = 'retrying' and new.run_at <= new.updated_at)
        execute function "${s}".notify_due();`

const down = (s: string) => `
      drop trigger if exists jobs_notify_due on "${s}".jobs;
      drop function if exists "${s}".notify_due();`

/** @internal */
export const v0039 = (s: string): {
  readonly up: (db: Kysely<unknown>) => Promise<void>
  readonly down: (db: Kysely<unknown>) => Promise<void>
} => ({
  up: async (db) => {
    await sql.raw(up(s)).execute(db)
  },
  down: async (db) => {
    await sql.raw(down(s)).execute(db)
  }
})
