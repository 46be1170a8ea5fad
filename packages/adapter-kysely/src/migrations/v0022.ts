/**
 * Migration 0022: the jobs trigger runs a function only when there is
 * something to announce (rule 11).
 *
 * `jobs_notify_row` (0001, bodies 0013/0015) ran `notify_row()` for every
 * updated row, with no WHEN condition: each claimed and each completed job
 * (and each heartbeat) paid a PL/pgSQL call, and each status change an index
 * probe of `watches`, even with nobody watching anything — measured with
 * `bench/src/workloads/writeCost.ts`, 11–15 ms of trigger time per 1,000
 * completions, a sixth of the completion statement. Now:
 *
 * - `jobs_notify_always` (per row, WHEN back to pending or cancel requested,
 *   a condition checked before any function runs): announces `enqueued` and
 *   `cancelRequested` per job, whoever watches, as before;
 * - `jobs_notify_watched` (per statement, over the transition tables `o` and
 *   `n`): first one read of `watches` for any live row; with none (no job
 *   watched, no status feed open: a worker's usual case) it returns at once.
 *   Otherwise it announces the status and progress changes of watched jobs
 *   per job and, with a status feed open (0013, 0015), stamps the clock of
 *   each (queue, type, status) an unwatched job reached, once per statement
 *   (and, as before, not again in the transaction while the key repeats);
 * - `jobs_notify_deleted` (per row, `notify_row()` as before): a delete is
 *   announced per job.
 *
 * 0010's counting triggers for the queue position (`jobs_claimable_left`,
 * `jobs_claimable_deleted`) are unchanged: their WHEN conditions already
 * keep them to the rows that leave the claimable set. A statement-level form
 * of them and of every announcement was measured and not kept: a trigger
 * over transition tables plans its queries at every call, 50–80 µs per
 * statement, more than the row triggers cost a claim or completion of ten.
 *
 * Down restores `jobs_notify_row`.
 *
 * @since 0.2.0
 */
import { sql } from "../kyselyModule.js"
import type { Kysely } from "kysely"
import { feedJobId } from "./v0013.js"

/** The per-job announcement, as the row trigger built it. */
const notify = (s: string, row: string, kind: string) =>
  `pg_notify('jobtrack:${s}', json_build_object('i', ${row}.id, 't', ${row}.type, 'q', ${row}.queue, 'k', ${kind}, 's', ${row}.status)::text)`

/** The kinds announced whoever watches: back to pending, and a cancel request. */
const always = `(old.status is distinct from new.status and new.status = 'pending')
          or (new.cancel_requested and not old.cancel_requested)`

const up = (s: string) => `
      -- announced per job whoever watches, from a row trigger whose WHEN condition (checked
      -- before any function runs) holds only for these rare updates
      create function "${s}".notify_always() returns trigger language plpgsql as $fn$
      begin
        perform ${notify(s, "new", `case when old.status is distinct from new.status and new.status = 'pending'
          then 'enqueued' else 'cancelRequested' end`)};
        return null;
      end $fn$;

      -- status and progress changes: announced for watched jobs, stamped for a status feed;
      -- once per statement, and only one indexed read when nobody watches anything
      create function "${s}".notify_watched() returns trigger language plpgsql as $fn$
      declare
        r record;
      begin
        if not exists (select 1 from "${s}".watches w where w.expires_at > now()) then
          return null;
        end if;
        perform ${notify(s, "c", "c.kind")} from (
          select n.id, n.type, n.queue, n.status,
            case when o.status is distinct from n.status then 'status' else 'progress' end as kind
          from o join n on n.id = o.id
          where not (${always.replace(/old\./g, "o.").replace(/new\./g, "n.")})
            and (o.status is distinct from n.status or o.progress is distinct from n.progress
              or o.progress_message is distinct from n.progress_message)
        ) c
        where exists (select 1 from "${s}".watches w where w.job_id = c.id and w.expires_at > now());
        if exists (select 1 from "${s}".watches w where w.job_id = '${feedJobId}'::uuid and w.expires_at > now()) then
          for r in
            select distinct n.queue, n.type, n.status from o join n on n.id = o.id
            where o.status is distinct from n.status and n.status <> 'pending'
              and not (n.cancel_requested and not o.cancel_requested)
              and not exists (select 1 from "${s}".watches w where w.job_id = n.id and w.expires_at > now())
          loop
            if current_setting('jobtrack.feed_stamped', true) is distinct from (r.queue || '/' || r.type || '/' || r.status) then
              perform set_config('jobtrack.feed_stamped', r.queue || '/' || r.type || '/' || r.status, true);
              perform "${s}".feed_stamp(r.queue, r.type, r.status);
            end if;
          end loop;
        end if;
        return null;
      end $fn$;

      drop trigger jobs_notify_row on "${s}".jobs;
      create trigger jobs_notify_always after update on "${s}".jobs for each row
        when (${always}) execute function "${s}".notify_always();
      create trigger jobs_notify_watched after update on "${s}".jobs
        referencing old table as o new table as n for each statement execute function "${s}".notify_watched();
      create trigger jobs_notify_deleted after delete on "${s}".jobs for each row
        execute function "${s}".notify_row();`

const down = (s: string) => `
      drop trigger if exists jobs_notify_always on "${s}".jobs;
      drop trigger if exists jobs_notify_watched on "${s}".jobs;
      drop trigger if exists jobs_notify_deleted on "${s}".jobs;
      drop function if exists "${s}".notify_always();
      drop function if exists "${s}".notify_watched();
      create trigger jobs_notify_row after update or delete on "${s}".jobs
        for each row execute function "${s}".notify_row();`

/** @internal */
export const v0022 = (s: string): {
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
