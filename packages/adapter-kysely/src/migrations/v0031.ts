/**
 * Migration 0031: the claim counts the jobs it takes out of the claimable set
 * itself, once per call, instead of a row trigger per claimed job (issue 13,
 * item 3; the queue position's departures, migration 0010).
 *
 * Migration 0010's `jobs_claimable_left` ran `count_claimable_left()` (a
 * PL/pgSQL call taking one number of `claimable_left`) for every row that
 * left the claimable set, a claimed job included: an after-row trigger event
 * per claimed job, its old and new rows fetched again at the end of the
 * statement, and a function call, on the hottest write there is. Measured in
 * a drain of 10,000 no-op jobs: 10,000 calls, 2.7 µs each in the function
 * alone.
 *
 * Now:
 *
 * - `claim()` counts the rows it claimed and takes that many numbers of
 *   `claimable_left` in one statement at its end (in the same transaction,
 *   before it commits, as the trigger did: the position boundary reads the
 *   sequence, which no rollback moves back; counting more than left only
 *   makes a boundary expire sooner);
 * - `jobs_claimable_left` leaves out the rows that become `processing`: only
 *   a claim moves a job there (the trigger still counts every other way out:
 *   cancelled, deleted, moved to another queue, priority, run time or group).
 *
 * The claim is otherwise migration 0026's, with its settings written in its
 * definition (`create or replace` drops those it does not name): 0014's
 * `enable_bitmapscan = off` and 0028's `plan_cache_mode = force_generic_plan`.
 *
 * Down restores 0026's claim with both settings, and 0010's trigger.
 *
 * @since 0.2.0
 */
import { sql } from "../kyselyModule.js"
import type { Kysely } from "kysely"

const header = (s: string) => `
      create or replace function "${s}".claim(
        p_queues text[], p_types text[], p_worker text, p_limit integer,
        p_lease_ms integer, p_now timestamptz
      ) returns setof "${s}".jobs language plpgsql
        set enable_bitmapscan = off set plan_cache_mode = force_generic_plan as $fn$`

/** The update that claims locked rows (shared by both paths). */
const claimSet = `status = 'processing', attempts = j.attempts + 1, token = j.token + 1,
                locked_by = p_worker, locked_until = p_now + p_lease_ms * interval '1 millisecond',
                started_at = p_now, next_retry_at = null, cancel_requested = false, updated_at = p_now`

/** The claimable jobs of `v_queue` (for the alias `j`). */
const claimable = `j.status in ('pending', 'retrying') and j.queue = v_queue
                and j.type = any(p_types) and j.run_at <= p_now`

/** After each claiming statement: add its rows to the claim's count. */
const counted = (counts: boolean) => counts ? `
                v_claimed := v_claimed + v_n;` : ""

/** At the end of a claim: one number of `claimable_left` per claimed job (migration 0010), in one statement. */
const departures = (s: string) => `
        if v_claimed > 0 then
          perform nextval('"${s}".claimable_left') from generate_series(1, v_claimed);
        end if;`

const claimFunction = (s: string, counts: boolean) => `${header(s)}
      declare
        v_queue text;
        v_left integer := p_limit;
        v_locked boolean := false;
        v_limited boolean;
        v_full text[];
        v_ids uuid[];
        v_passed uuid[];
        v_window integer;
        v_seen integer;
        v_n integer;${counts ? `
        v_claimed integer := 0;` : ""}
      begin
        -- a claim lost in a database crash only means the job is claimed again (the old
        -- holder's writes are refused by the fencing token): do not wait for a WAL flush,
        -- nor hold the claim lock through one
        perform set_config('synchronous_commit', 'off', true);
        foreach v_queue in array p_queues loop
          exit when v_left <= 0;
          if not v_locked then
            -- the head of the queue, read without locking: is a limited group among it?
            select coalesce(bool_or(h.group_key is not null and h.group_limit is not null), false)
              into v_limited
            from (
              select j.group_key, j.group_limit
              from "${s}".jobs j
              where ${claimable}
              order by j.priority desc, j.run_at, j.id
              limit v_left
            ) h;
            if not v_limited then
              -- lock-free: the first claimable jobs without a limited group, locked as read
              -- (a row is only ever locked here to be claimed)
              select coalesce(array_agg(c.id order by c.priority desc, c.run_at, c.id), '{}') into v_ids
              from (
                select j.id, j.priority, j.run_at
                from "${s}".jobs j
                where ${claimable}
                  and (j.group_key is null or j.group_limit is null)
                order by j.priority desc, j.run_at, j.id
                limit v_left
                for update of j skip locked
              ) c;
              if cardinality(v_ids) > 0 then
                return query
                with claimed as (
                  update "${s}".jobs j set
                    ${claimSet}
                  where j.id = any(v_ids)
                  returning j.*
                )
                select * from claimed order by priority desc, run_at, id;
                get diagnostics v_n = row_count;${counted(counts)}
                v_left := v_left - v_n;
              end if;
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
          v_passed := '{}';
          loop
            v_window := v_left * 4 + 16;
            -- groups already full, this claim's own claims counted
            select coalesce(array_agg(f.group_key), '{}') into v_full from (
              select group_key from "${s}".jobs where status = 'processing' and group_key is not null
              group by group_key having count(*) >= max(group_limit)
            ) f;
            -- candidates: an ordered scan of jobs_claim, stopped by the limit
            with candidates as (
              select j.id, j.group_key, j.group_limit, j.priority, j.run_at
              from "${s}".jobs j
              where ${claimable}
                and (j.group_key is null or not (j.group_key = any(v_full)))
                and not (j.id = any(v_passed))
              order by j.priority desc, j.run_at, j.id
              limit v_window
            ), running as (
              select g.group_key, count(*)::integer as n from "${s}".jobs g
              where g.status = 'processing' and g.group_key in (select c.group_key from candidates c)
              group by g.group_key
            )
            select coalesce(array_agg(c.id order by c.priority desc, c.run_at, c.id), '{}'),
                (select count(*)::integer from candidates)
              into v_ids, v_seen from (
              select c.* from (
                select c.*, row_number() over (partition by c.group_key order by c.priority desc, c.run_at, c.id) as rn
                from candidates c
              ) c left join running g on g.group_key = c.group_key
              where c.group_key is null or c.group_limit is null or c.rn + coalesce(g.n, 0) <= c.group_limit
              order by c.priority desc, c.run_at, c.id
              limit v_left
            ) c;
            exit when cardinality(v_ids) = 0;
            -- Lock the chosen rows by primary key (SKIP LOCKED: a row another transaction
            -- holds is passed over, and the next candidates are taken). The status is checked
            -- on the locked row's latest version, not in the scan's condition: a status
            -- condition would let the planner, misled by statistics from before the backlog,
            -- walk the whole claim index filtering by id.
            return query
            with locked as (
              select j.id, j.status from "${s}".jobs j
              where j.id = any(v_ids)
              for update skip locked
            ), claimed as (
              update "${s}".jobs j set
                ${claimSet}
              from locked where j.id = locked.id and locked.status in ('pending', 'retrying')
              returning j.*
            )
            select * from claimed order by priority desc, run_at, id;
            get diagnostics v_n = row_count;${counted(counts)}
            v_left := v_left - v_n;
            -- done when the limit is filled, or when every chosen job was claimed and the scan
            -- saw every candidate left; otherwise the next candidates (the groups this claim
            -- filled are now left out, the rows held by others passed over)
            exit when v_left <= 0 or (v_n = cardinality(v_ids) and v_seen < v_window);
            v_passed := v_passed || v_ids;
          end loop;
        end loop;${counts ? departures(s) : ""}
      end $fn$;`

/** Migration 0010's WHEN condition, the rows moving to `processing` (claims, counted by `claim()`) left out or not. */
const leftWhen = (claims: boolean) => `old.status in ('pending', 'retrying') and (
          new.status not in ('pending', 'retrying'${claims ? "" : ", 'processing'"}) or new.queue is distinct from old.queue
          or new.priority is distinct from old.priority or new.run_at is distinct from old.run_at
          or new.group_key is distinct from old.group_key or new.group_limit is distinct from old.group_limit)`

const trigger = (s: string, claims: boolean) => `
      drop trigger jobs_claimable_left on "${s}".jobs;
      create trigger jobs_claimable_left after update on "${s}".jobs for each row
        when (${leftWhen(claims)})
        execute function "${s}".count_claimable_left();`

/** @internal */
export const v0031 = (s: string): {
  readonly up: (db: Kysely<unknown>) => Promise<void>
  readonly down: (db: Kysely<unknown>) => Promise<void>
} => ({
  up: async (db) => {
    await sql.raw(claimFunction(s, true)).execute(db)
    await sql.raw(trigger(s, false)).execute(db)
  },
  down: async (db) => {
    await sql.raw(trigger(s, true)).execute(db)
    await sql.raw(claimFunction(s, false)).execute(db)
  }
})
