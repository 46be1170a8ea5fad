/**
 * Migration 0032: the watched-jobs trigger is not called while no watch can
 * be live (issue 13, item 3; rule 11).
 *
 * Migration 0022's `jobs_notify_watched` (per statement, over transition
 * tables) first reads `watches` for any live row and, with none, returns.
 * That read is an executor run inside a PL/pgSQL call: about 20 µs for every
 * claim and every batched completion, measured in a drain of 10,000 no-op
 * jobs (1,655 calls, 33 ms), while nobody watched anything.
 *
 * Now a sequence, `watch_horizon`, holds (in epoch milliseconds, rounded up)
 * a time no live watch outlasts: a row trigger on `watches` raises it to each
 * registered or renewed watch's `expires_at` (under an advisory lock, so two
 * registrations cannot lower it; a rolled back or deleted watch leaves it
 * high, which only costs a call). `jobs_notify_watched` gets a WHEN
 * condition, checked before any function runs, that the horizon is still
 * ahead of the writing transaction's `now()` — the same clock the function
 * compares `expires_at` with. Behind it, every watch has expired
 * (`expires_at <= horizon <= now()`), which is exactly when the function
 * returned at once. Reading a sequence's last value takes no snapshot and no
 * plan. With a watch live, nothing changes: the function runs as before.
 *
 * The transition tables are still captured (PostgreSQL fills them whatever
 * the WHEN condition says).
 *
 * Down drops the horizon and restores 0022's trigger.
 *
 * @since 0.2.0
 */
import { sql } from "../kyselyModule.js"
import type { Kysely } from "kysely"

/** The horizon's value for a time: epoch milliseconds, rounded up. */
const millis = (t: string) => `ceil(extract(epoch from ${t}) * 1000)::bigint`

const up = (s: string) => `
      create sequence "${s}".watch_horizon minvalue 0 start 0;

      create function "${s}".raise_watch_horizon() returns trigger language plpgsql as $fn$
      declare
        v_until bigint := ${millis("new.expires_at")};
      begin
        if coalesce(pg_sequence_last_value('"${s}".watch_horizon'), 0) < v_until then
          -- one raiser at a time: a read and a setval of two registrations must not interleave
          perform pg_advisory_xact_lock(hashtext('jobtrack.watch_horizon'), hashtext('${s}'));
          if coalesce(pg_sequence_last_value('"${s}".watch_horizon'), 0) < v_until then
            perform setval('"${s}".watch_horizon', v_until, true);
          end if;
        end if;
        return null;
      end $fn$;

      -- created before the horizon is read from the table: from here a registration waits
      -- for this transaction (CREATE TRIGGER locks out writes to watches), then raises it
      create trigger watches_raise_horizon after insert or update of expires_at on "${s}".watches
        for each row execute function "${s}".raise_watch_horizon();
      select setval('"${s}".watch_horizon', coalesce(max(${millis("expires_at")}), 0), true)
        from "${s}".watches;

      drop trigger jobs_notify_watched on "${s}".jobs;
      create trigger jobs_notify_watched after update on "${s}".jobs
        referencing old table as o new table as n for each statement
        when (pg_sequence_last_value('"${s}".watch_horizon') > floor(extract(epoch from now()) * 1000))
        execute function "${s}".notify_watched();`

const down = (s: string) => `
      drop trigger jobs_notify_watched on "${s}".jobs;
      create trigger jobs_notify_watched after update on "${s}".jobs
        referencing old table as o new table as n for each statement execute function "${s}".notify_watched();
      drop trigger watches_raise_horizon on "${s}".watches;
      drop function "${s}".raise_watch_horizon();
      drop sequence "${s}".watch_horizon;`

/** @internal */
export const v0032 = (s: string): {
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
