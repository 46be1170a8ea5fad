/**
 * Migration 0044: a claim that found every job at its queue's head locked by
 * another transaction, and holds no row itself, waits for them (at most half
 * a second) instead of reporting the queue drained.
 *
 * The lock-free path locks the head of the queue `SKIP LOCKED`, taking it
 * for granted that a row is only ever locked to be claimed. It is not: an
 * `UPDATE` that waited for a row and found, once the other writer committed,
 * that the row no longer matched its condition keeps the row locked until
 * its own transaction ends (PostgreSQL's re-check under READ COMMITTED). Two
 * processes recovering the same expired lease at once do exactly this: B
 * makes the job `retrying` and announces it, A's recovery re-checks the row
 * (no longer `processing`, so not A's to recover) and holds it until A's
 * statement commits. A drained runner woken by B's announcement claimed in
 * that window, skipped the job and waited for its poll (a minute in
 * `retryAnnounced.test`, which failed about one run in three). A host's or an
 * operator's statement that locks a pending job (a bulk update that waits
 * for it) does the same.
 *
 * Now, when the lock-free claim of a queue took nothing while its unlocked
 * read of the head saw claimable jobs, and the claim holds no row yet, it
 * waits for the first of those jobs by primary key (one row, holding none:
 * so it can be in no deadlock cycle), with `lock_timeout` at 500 ms (or the
 * session's, if lower) for that statement only, then locks the head `SKIP
 * LOCKED` again: the job waited for is claimed if it is still claimable; one
 * another claim took is `processing` by then and left. A wait that runs out
 * (or is chosen as a deadlock's victim) claims what is free, as before, with
 * no error. Only once per claim. A claim that took some jobs and skipped
 * others still skips them: waiting while holding rows could deadlock two
 * claimers that each skipped the other's rows.
 *
 * Cost: the head read also collects its ids (at most the claim's limit); the
 * wait happens only when the claim would otherwise have returned nothing with
 * jobs in view, i.e. another claim or writer held all of them, and lasts
 * until that transaction ends (another claim commits asynchronously, in well
 * under a millisecond). The waiter then holds the row (now `processing`, if
 * another claim took it) until its own claim commits, so that job's first
 * write waits for it as long. The function keeps every setting migrations 0014,
 * 0028 and 0037 gave it. The path under the claim lock (limited groups) is
 * migration 0033's, unchanged.
 *
 * Down restores migration 0033's claim with 0037's setting.
 *
 * @since 0.2.0
 */
import { sql } from "../kyselyModule.js"
import type { Kysely } from "kysely"
import { asyncRandom, claimable, claimSet, counted, departures, header, limitedPath, randomToken, v0033 } from "./v0033.js"

/** 0033's header with 0037's `enable_seqscan = off` (`create or replace` replaces the settings too). */
const settings = (s: string) => header(s).replace("set enable_bitmapscan = off", "set enable_bitmapscan = off set enable_seqscan = off")

/**
 * The head of `v_queue` without a limited group, locked as read, passing over rows another
 * transaction holds (mostly other claims), into `v_ids`; its lines indented by `pad`.
 */
const lockHead = (s: string, pad: string) => [
  `select coalesce(array_agg(c.id order by c.priority desc, c.run_at, c.id), '{}') into v_ids`,
  `from (`,
  `  select j.id, j.priority, j.run_at`,
  `  from "${s}".jobs j`,
  `  where ${claimable}`,
  `    and (j.group_key is null or j.group_limit is null)`,
  `  order by j.priority desc, j.run_at, j.id`,
  `  limit v_left`,
  `  for update of j skip locked`,
  `) c;`
].join(`\n${pad}`)

/** The claim statement for the ids in `v_ids` (all locked by this claim, claimable). */
const claimIds = (s: string) => `
                return query
                with claimed as (
                  update "${s}".jobs j set
                    ${claimSet(randomToken)}
                  where j.id = any(v_ids)
                  returning j.*
                )
                select * from claimed order by priority desc, run_at, id;
                get diagnostics v_n = row_count;${counted}
                v_left := v_left - v_n;`

/**
 * Wait for the first job of the head (`v_head[1]`), locked by another transaction, by primary key;
 * then lock the head `SKIP LOCKED` again. Waiting for one row while holding none, this claim can be
 * in no deadlock, and the wait is one `lock_timeout` (500 ms, or the session's if lower).
 */
const waitForHead = (s: string) => `
              if v_claimed = 0 and not v_waited and cardinality(v_head) > 0 then
                -- every job at the head was locked by another transaction and this claim holds no
                -- row: wait for the first (a writer that only re-checked a row holds it to its commit)
                v_waited := true;
                v_timeout := current_setting('lock_timeout');
                if v_timeout::interval = interval '0' or v_timeout::interval > interval '500 milliseconds' then
                  perform set_config('lock_timeout', '500ms', true);
                end if;
                begin
                  perform 1 from "${s}".jobs j where j.id = v_head[1] for update of j;
                exception when lock_not_available or deadlock_detected then
                  null;
                end;
                perform set_config('lock_timeout', v_timeout, true);
                -- the head again: the row waited for if it is still claimable, and any other free one
                ${lockHead(s, "                ")}
                if cardinality(v_ids) > 0 then${claimIds(s).replaceAll("\n                ", "\n                  ")}
                end if;
              end if;`

const claimFunction = (s: string) => `${settings(s)}
      declare
        v_queue text;
        v_left integer := p_limit;
        v_locked boolean := false;
        v_limited boolean;
        v_head uuid[];
        v_waited boolean := false;
        v_timeout text;
        v_full text[];
        v_ids uuid[];
        v_passed uuid[];
        v_window integer;
        v_seen integer;
        v_n integer;
        v_claimed integer := 0;
      begin
        ${asyncRandom}
        perform set_config('synchronous_commit', 'off', true);
        foreach v_queue in array p_queues loop
          exit when v_left <= 0;
          if not v_locked then
            -- the head of the queue, read without locking: its jobs, and is a limited group among them?
            select coalesce(bool_or(h.group_key is not null and h.group_limit is not null), false),
                coalesce(array_agg(h.id order by h.priority desc, h.run_at, h.id), '{}')
              into v_limited, v_head
            from (
              select j.id, j.priority, j.run_at, j.group_key, j.group_limit
              from "${s}".jobs j
              where ${claimable}
              order by j.priority desc, j.run_at, j.id
              limit v_left
            ) h;
            if not v_limited then
              -- lock-free: the first claimable jobs without a limited group, locked as read,
              -- passing over rows another transaction holds (mostly other claims)
              ${lockHead(s, "              ")}
              if cardinality(v_ids) > 0 then${claimIds(s)}
              end if;${waitForHead(s)}
              continue when v_left <= 0;
              -- fewer free jobs than wanted: go on under the lock only if a limited group waits
              continue when not exists (
                select 1 from "${s}".jobs j
                where ${claimable}
                  and j.group_key is not null and j.group_limit is not null
              );
            end if;
            -- a limited group in this queue: claim it and the next queues under the lock,
            -- holding no row of this queue while waiting for it
            perform pg_advisory_xact_lock(hashtext('jobtrack.claim'), hashtext('${s}'));
            v_locked := true;
          end if;
${limitedPath(s, randomToken)}
        end loop;${departures(s)}
      end $fn$;`

/** @internal */
export const v0044 = (s: string): {
  readonly up: (db: Kysely<unknown>) => Promise<void>
  readonly down: (db: Kysely<unknown>) => Promise<void>
} => ({
  up: async (db) => {
    await sql.raw(claimFunction(s)).execute(db)
  },
  down: async (db) => {
    await v0033(s).up(db)
    await sql.raw(`alter function "${s}".claim(text[], text[], text, integer, integer, timestamptz) set enable_seqscan = off`).execute(db)
  }
})
