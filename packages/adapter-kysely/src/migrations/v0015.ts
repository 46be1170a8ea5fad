/**
 * Migration 0015: the console's status feed without `NOTIFY` (store rules
 * F1–F2). With 0013, while a feed was open every claim and completion
 * transaction sent a coarse notification, and `NOTIFY`'s global lock through
 * commit serialised them: completion throughput fell to 0.44× of what it was
 * with no console open (docs/benchmarks.md, "The console's status feed").
 *
 * Now, while a feed is open (a `watches` row for the nil job id, as in 0013),
 * the jobs trigger only stamps `feed_clock`, one row per queue, type and
 * status, and at most once per 250 ms per row: `pg_try_advisory_xact_lock` on
 * the row's key (never waits: a transaction that does not get it leaves the
 * stamp to the one that has it), then a read of the stamp, and a write only
 * when it is older than 250 ms. No notification is sent for the feed. The
 * process holding the feed reads the stamps of the last two seconds once a
 * second (one shared read per process, `store/StatusFeed.ts`) and announces
 * each as a coarse `queueChanged`; a stamp is read by two reads in a row, so
 * a change whose stamp was skipped (within 250 ms of another) is covered by a
 * read after its commit.
 *
 * With no feed open the trigger does what 0013's did (one index probe of
 * `watches` per status or progress change); a watched job is still announced
 * per job, progress included, at once.
 *
 * In a transaction that is not READ COMMITTED, the stamp is written in a
 * subtransaction that gives up on a serialization failure (another
 * transaction stamped the row after this one's snapshot): the feed never
 * fails a job's transaction.
 *
 * Redefines `notify_row()` only (not `claim()`); `down` restores the 0013
 * body and drops `feed_clock` and `feed_stamp()`.
 *
 * @since 0.2.0
 */
import { sql } from "../kyselyModule.js"
import type { Kysely } from "kysely"
import { feedJobId } from "./v0013.js"

/** 0013's `notify_row()`, with what a feed registration makes it do as `feed`. */
const notifyRow = (s: string, feed: string) => `
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
          r := new;
          select max(case when w.job_id = r.id then 2 else 1 end) into audience from "${s}".watches w
            where w.job_id in (r.id, '${feedJobId}'::uuid) and w.expires_at > now();
          if audience is null or (audience = 1 and kind = 'progress') then
            return null;
          end if;
          if audience = 1 then${feed}
            return null;
          end if;
        end if;
        perform pg_notify('jobtrack:${s}', json_build_object(
          'i', r.id, 't', r.type, 'q', r.queue, 'k', kind, 's', r.status)::text);
        return null;
      end $fn$;`

/**
 * 0015: stamp the clock of the job's queue, type and status, once per
 * transaction and key (a batch of completions is one call; the memo is a
 * transaction-local setting, gone at commit).
 */
const stamp = (s: string) => `
            if current_setting('jobtrack.feed_stamped', true) is distinct from (r.queue || '/' || r.type || '/' || r.status) then
              perform set_config('jobtrack.feed_stamped', r.queue || '/' || r.type || '/' || r.status, true);
              perform "${s}".feed_stamp(r.queue, r.type, r.status);
            end if;`

/** 0013: one coarse notification per queue, type and status per transaction. */
const notifyCoarse = (s: string) => `
            perform pg_notify('jobtrack:${s}', json_build_object(
              't', r.type, 'q', r.queue, 'k', 'queue', 's', r.status)::text);`

const feedClock = (s: string) => `
      -- when some job of a queue and type last reached a status, while a feed is open
      -- (stamped at most every 250 ms; read by the feed's holders once a second)
      create table "${s}".feed_clock (
        queue       text not null,
        type        text not null,
        status      text not null,
        stamped_at  timestamptz not null,
        primary key (queue, type, status)
      );

      create function "${s}".feed_stamp(p_queue text, p_type text, p_status text) returns void
      language plpgsql as $fn$
      declare
        last timestamptz;
      begin
        -- one stamper per row at a time, and no one waits: without the lock, skip
        if not pg_try_advisory_xact_lock(hashtext('jobtrack.feed:${s}'), hashtext(p_queue || '/' || p_type || '/' || p_status)) then
          return;
        end if;
        select c.stamped_at into last from "${s}".feed_clock c
          where c.queue = p_queue and c.type = p_type and c.status = p_status;
        if last is not null and last > clock_timestamp() - interval '250 milliseconds' then
          return;
        end if;
        if current_setting('transaction_isolation') = 'read committed' then
          insert into "${s}".feed_clock as c (queue, type, status, stamped_at)
            values (p_queue, p_type, p_status, clock_timestamp())
            on conflict (queue, type, status) do update set stamped_at = excluded.stamped_at;
        else
          begin
            insert into "${s}".feed_clock as c (queue, type, status, stamped_at)
              values (p_queue, p_type, p_status, clock_timestamp())
              on conflict (queue, type, status) do update set stamped_at = excluded.stamped_at;
          exception when serialization_failure then
            null; -- stamped by another transaction since this one's snapshot
          end;
        end if;
      end $fn$;`

/** @internal */
export const v0015 = (s: string): {
  readonly up: (db: Kysely<unknown>) => Promise<void>
  readonly down: (db: Kysely<unknown>) => Promise<void>
} => ({
  up: async (db) => {
    await sql.raw(feedClock(s) + notifyRow(s, stamp(s))).execute(db)
  },
  down: async (db) => {
    await sql.raw(notifyRow(s, notifyCoarse(s)) + `
      drop function "${s}".feed_stamp(text, text, text);
      drop table "${s}".feed_clock;`).execute(db)
  }
})
