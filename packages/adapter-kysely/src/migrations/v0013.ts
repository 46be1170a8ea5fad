/**
 * Migration 0013: the console's status feed (store rules F1–F2). While some
 * process has a feed open (`watchingAll`: a row in `watches` for the nil job
 * id, refreshed while open, expiring a minute after its process died), the
 * jobs trigger announces every status change it would otherwise keep quiet,
 * coarsely: `{ q, t, k: "queue", s }` per queue, type and new status, without
 * the job's id. `pg_notify` drops identical payloads within a transaction,
 * so a batch of completions is one announcement. With no feed open the
 * trigger does what it did (one index probe of `watches` per status or
 * progress change, now for two keys), and a watched job is still announced
 * per job, progress included.
 *
 * Redefines `notify_row()` only (not `claim()`); `down` restores the 0001 body.
 *
 * @since 0.2.0
 */
import { sql } from "../kyselyModule.js"
import type { Kysely } from "kysely"

/** The `watches.job_id` of a feed registration: no job has it. */
export const feedJobId = "00000000-0000-0000-0000-000000000000"

const notifyRow = (s: string, audience: string) => `
      create or replace function "${s}".notify_row() returns trigger language plpgsql as $fn$
      declare
        kind text;
        r "${s}".jobs;
        audience integer;
      begin
        if tg_op = 'DELETE' then
          kind := 'deleted'; r := old;
        elsif old.status is distinct from new.status and new.status = 'pending' then
          kind := 'enqueued'; r := new;
        elsif new.cancel_requested and not old.cancel_requested then
          kind := 'cancelRequested'; r := new;
        else
          if old.status is distinct from new.status then
            kind := 'status';
          elsif old.progress is distinct from new.progress or old.progress_message is distinct from new.progress_message then
            kind := 'progress';
          else
            return null;
          end if;
          r := new;${audience}
        end if;
        perform pg_notify('jobtrack:${s}', json_build_object(
          'i', r.id, 't', r.type, 'q', r.queue, 'k', kind, 's', r.status)::text);
        return null;
      end $fn$;`

/** 2: someone watches this job (announced per job); 1: a feed is open (status changes, coarsely); none: quiet. */
const withFeed = (s: string) => `
          select max(case when w.job_id = r.id then 2 else 1 end) into audience from "${s}".watches w
            where w.job_id in (r.id, '${feedJobId}'::uuid) and w.expires_at > now();
          if audience is null or (audience = 1 and kind = 'progress') then
            return null;
          end if;
          if audience = 1 then
            perform pg_notify('jobtrack:${s}', json_build_object(
              't', r.type, 'q', r.queue, 'k', 'queue', 's', r.status)::text);
            return null;
          end if;`

/** The body of 0001: only watched jobs. */
const watchedOnly = (s: string) => `
          if not exists (select 1 from "${s}".watches w where w.job_id = r.id and w.expires_at > now()) then
            return null;
          end if;`

/** @internal */
export const v0013 = (s: string): {
  readonly up: (db: Kysely<unknown>) => Promise<void>
  readonly down: (db: Kysely<unknown>) => Promise<void>
} => ({
  up: async (db) => {
    await sql.raw(notifyRow(s, withFeed(s))).execute(db)
  },
  down: async (db) => {
    await sql.raw(notifyRow(s, watchedOnly(s))).execute(db)
  }
})
