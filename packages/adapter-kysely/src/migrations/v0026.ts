/**
 * Migration 0026: a claim that waits for the group lock holding no job, and
 * a lock holder that fills its limit past the jobs other claimers hold
 * (issue 13, items 3 and 7; conformance rule 5).
 *
 * Under migration 0011 a claimer's lock-free first read locked the first
 * claimable jobs of a queue (`FOR UPDATE SKIP LOCKED`) and, seeing a limited
 * group (a group key with a group limit) among them, waited for the
 * per-schema claim lock while holding those rows. The lock holder chose its
 * jobs from an unlocked scan and locked them with `SKIP LOCKED`, so it could
 * skip the very job it chose (held by a waiter) and return short; the waiter,
 * once it held the lock, might choose other jobs and release that one. A
 * claimable job could then stay unclaimed until the next wake-up or poll.
 *
 * Now, per queue:
 *
 * - The head of the queue (the first claimable jobs in claim order) is read
 *   without locking. When a limited group is among them, the claim takes the
 *   lock holding no row of that queue.
 * - Otherwise the first claimable jobs *without a limited group* are read in
 *   claim order and locked as read (`SKIP LOCKED`), then claimed by primary
 *   key: a claimer locks a row only to claim it. When fewer were free than
 *   wanted and a limited group waits in the queue, the claim goes on under
 *   the lock.
 * - Under the lock, candidates come from an ordered scan as before (groups
 *   already full left out, running counts per group) and the chosen ids are
 *   locked by primary key with `SKIP LOCKED`. A chosen job that comes back
 *   locked by another transaction (a lock-free claimer about to claim it, or
 *   a host's write) is passed over and the next candidates are taken, until
 *   the limit is filled or no candidate is left.
 *
 * So, while no other transaction holds a job's row, a claim that returns
 * fewer jobs than asked leaves nothing claimable behind: a job it passed
 * over was held by a claimer that claims it. Group limits stay exact: a job
 * with a limited group is only claimed under the lock, by a claim that
 * counted its group's running jobs (its own claims included) after the
 * previous lock holder committed. A claim still commits with
 * `synchronous_commit = off`, and the function keeps migration 0014's
 * `enable_bitmapscan = off`.
 *
 * Down restores migration 0011's claim (with 0014's setting).
 *
 * @since 0.2.0
 */
import { sql } from "../kyselyModule.js"
import type { Kysely } from "kysely"

const header = (s: string) => `
      create or replace function "${s}".claim(
        p_queues text[], p_types text[], p_worker text, p_limit integer,
        p_lease_ms integer, p_now timestamptz
      ) returns setof "${s}".jobs language plpgsql set enable_bitmapscan = off as $fn$`

/** The update that claims locked rows (shared by both paths). */
const claimSet = `status = 'processing', attempts = j.attempts + 1, token = j.token + 1,
                locked_by = p_worker, locked_until = p_now + p_lease_ms * interval '1 millisecond',
                started_at = p_now, next_retry_at = null, cancel_requested = false, updated_at = p_now`

/** The claimable jobs of `v_queue` (for the alias `j`). */
const claimable = `j.status in ('pending', 'retrying') and j.queue = v_queue
                and j.type = any(p_types) and j.run_at <= p_now`

const claimFunction = (s: string) => `${header(s)}
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
        v_n integer;
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
                get diagnostics v_n = row_count;
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
            get diagnostics v_n = row_count;
            v_left := v_left - v_n;
            -- done when the limit is filled, or when every chosen job was claimed and the scan
            -- saw every candidate left; otherwise the next candidates (the groups this claim
            -- filled are now left out, the rows held by others passed over)
            exit when v_left <= 0 or (v_n = cardinality(v_ids) and v_seen < v_window);
            v_passed := v_passed || v_ids;
          end loop;
        end loop;
      end $fn$;`

/** Migration 0011's claim, as migration 0014 left it. */
const previousFunction = (s: string) => `${header(s)}
      declare
        v_queue text;
        v_left integer := p_limit;
        v_locked boolean := false;
        v_limited boolean;
        v_full text[];
        v_ids uuid[];
        v_n integer;
      begin
        perform set_config('synchronous_commit', 'off', true);
        foreach v_queue in array p_queues loop
          exit when v_left <= 0;
          if not v_locked then
            select coalesce(array_agg(c.id order by c.priority desc, c.run_at, c.id), '{}'),
                coalesce(bool_or(c.group_key is not null and c.group_limit is not null), false)
              into v_ids, v_limited
            from (
              select j.id, j.group_key, j.group_limit, j.priority, j.run_at
              from "${s}".jobs j
              where ${claimable}
              order by j.priority desc, j.run_at, j.id
              limit v_left
              for update of j skip locked
            ) c;
            if not v_limited then
              continue when cardinality(v_ids) = 0;
              return query
              with claimed as (
                update "${s}".jobs j set
                  ${claimSet}
                where j.id = any(v_ids)
                returning j.*
              )
              select * from claimed order by priority desc, run_at, id;
              get diagnostics v_n = row_count;
              v_left := v_left - v_n;
              continue;
            end if;
            perform pg_advisory_xact_lock(hashtext('jobtrack.claim'), hashtext('${s}'));
            v_locked := true;
            select coalesce(array_agg(f.group_key), '{}') into v_full from (
              select group_key from "${s}".jobs where status = 'processing' and group_key is not null
              group by group_key having count(*) >= max(group_limit)
            ) f;
          end if;
          with candidates as (
            select j.id, j.group_key, j.group_limit, j.priority, j.run_at
            from "${s}".jobs j
            where ${claimable}
              and (j.group_key is null or not (j.group_key = any(v_full)))
            order by j.priority desc, j.run_at, j.id
            limit v_left * 4 + 16
          ), running as (
            select g.group_key, count(*)::integer as n from "${s}".jobs g
            where g.status = 'processing' and g.group_key in (select c.group_key from candidates c)
            group by g.group_key
          )
          select coalesce(array_agg(c.id order by c.priority desc, c.run_at, c.id), '{}') into v_ids from (
            select c.* from (
              select c.*, row_number() over (partition by c.group_key order by c.priority desc, c.run_at, c.id) as rn
              from candidates c
            ) c left join running g on g.group_key = c.group_key
            where c.group_key is null or c.group_limit is null or c.rn + coalesce(g.n, 0) <= c.group_limit
            order by c.priority desc, c.run_at, c.id
            limit v_left
          ) c;
          continue when cardinality(v_ids) = 0;
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
          get diagnostics v_n = row_count;
          v_left := v_left - v_n;
        end loop;
      end $fn$;`

/** @internal */
export const v0026 = (s: string): {
  readonly up: (db: Kysely<unknown>) => Promise<void>
  readonly down: (db: Kysely<unknown>) => Promise<void>
} => ({
  up: async (db) => {
    await sql.raw(claimFunction(s)).execute(db)
  },
  down: async (db) => {
    await sql.raw(previousFunction(s)).execute(db)
  }
})
