/**
 * Migration 0010: a count of claimable jobs that left, for the queue position
 * (rule 8, bounded; issue 13 item 2).
 *
 * A pending job's view says "more than 1,000" once 1,000 jobs ahead of it will
 * start before it. Proving that by counting costs a walk of 1,000 index rows
 * per view. Instead a process keeps, per queue, a boundary: the claim key of
 * the 1,500th claimable job, below which it counted `c` jobs that start first.
 * A job behind the boundary has at least `c` jobs ahead minus those that left
 * since, and "left" is what this sequence counts: every row that stops being
 * claimable where it was (claimed, cancelled, deleted, moved to another
 * queue, priority, run time or group) takes one number. While fewer than
 * `c - 1,000` numbers were taken since the boundary was read, a job behind it
 * is past the cap with no walk (`store/Position.ts`, `store/PositionBoundary.ts`).
 *
 * Counting more than left (a rolled back claim still took its number) only
 * makes the boundary expire sooner. A TRUNCATE moves the sequence far ahead.
 * The triggers' WHEN conditions are checked before any function runs, so a
 * write to a job that was not claimable (progress, completion) costs nothing.
 *
 * @since 0.2.0
 */
import { sql } from "../kyselyModule.js"
import type { Kysely } from "kysely"

/** @internal */
export const v0010 = (s: string): {
  readonly up: (db: Kysely<unknown>) => Promise<void>
  readonly down: (db: Kysely<unknown>) => Promise<void>
} => ({
  up: async (db) => {
    await sql.raw(`
      create sequence "${s}".claimable_left;

      create function "${s}".count_claimable_left() returns trigger language plpgsql as $fn$
      begin
        perform nextval('"${s}".claimable_left');
        return null;
      end
      $fn$;

      create function "${s}".count_jobs_truncated() returns trigger language plpgsql as $fn$
      begin
        perform setval('"${s}".claimable_left', nextval('"${s}".claimable_left') + 1000000000);
        return null;
      end
      $fn$;

      create trigger jobs_claimable_left after update on "${s}".jobs for each row
        when (old.status in ('pending', 'retrying') and (
          new.status not in ('pending', 'retrying') or new.queue is distinct from old.queue
          or new.priority is distinct from old.priority or new.run_at is distinct from old.run_at
          or new.group_key is distinct from old.group_key or new.group_limit is distinct from old.group_limit))
        execute function "${s}".count_claimable_left();

      create trigger jobs_claimable_deleted after delete on "${s}".jobs for each row
        when (old.status in ('pending', 'retrying'))
        execute function "${s}".count_claimable_left();

      create trigger jobs_truncated after truncate on "${s}".jobs for each statement
        execute function "${s}".count_jobs_truncated();
    `).execute(db)
  },
  down: async (db) => {
    await sql.raw(`
      drop trigger if exists jobs_truncated on "${s}".jobs;
      drop trigger if exists jobs_claimable_deleted on "${s}".jobs;
      drop trigger if exists jobs_claimable_left on "${s}".jobs;
      drop function if exists "${s}".count_jobs_truncated();
      drop function if exists "${s}".count_claimable_left();
      drop sequence if exists "${s}".claimable_left;
    `).execute(db)
  }
})
