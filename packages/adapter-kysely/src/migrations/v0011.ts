/**
 * Migration 0011: a claim that takes the per-schema claim lock only when it
 * has to (issue 13, items 3, 6 and 7).
 *
 * The transaction advisory lock of the claim exists for group limits alone
 * (two claimers must not both take a group's last slot). Most claims touch no
 * limited group, so the claim now starts without it:
 *
 * - Per queue, the first claimable jobs in claim order are read from the
 *   partial index `jobs_claim` and locked as they are read (`FOR UPDATE SKIP
 *   LOCKED`, stopped by the limit: a job another claimer holds is passed
 *   over, and a job that stopped being claimable meanwhile is re-checked on
 *   its latest version and dropped).
 * - When none of them has a limited group (a group key with a group limit),
 *   they are claimed by primary key at once: no advisory lock, so claimers in
 *   several processes no longer queue behind each other.
 * - When one has, the claim takes the advisory lock and from then on (this
 *   queue and the next) claims exactly as migration 0004 did: full groups
 *   left out, running counts per group, chosen ids locked by primary key.
 *   The rows locked before are this transaction's own, so they can still be
 *   chosen; those not chosen are released at commit.
 *
 * Group limits stay exact: a job with a limited group is only ever claimed
 * under the lock, by a claim that counted its group's running jobs after the
 * previous lock holder committed. A claim still commits with
 * `synchronous_commit = off` (a claim lost in a crash is claimed again; the
 * old holder's writes are refused by the fencing token).
 *
 * Down restores the claim of migration 0004.
 *
 * @since 0.2.0
 */
import { sql } from "../kyselyModule.js"
import type { Kysely } from "kysely"

/**
 * The claim function; `lockFree: false` is migration 0004's claim (the lock
 * taken first, every queue claimed on the group-exact path).
 */
const claimFunction = (s: string, lockFree: boolean) => `
      create or replace function "${s}".claim(
        p_queues text[], p_types text[], p_worker text, p_limit integer,
        p_lease_ms integer, p_now timestamptz
      ) returns setof "${s}".jobs language plpgsql as $fn$
      declare
        v_queue text;
        v_left integer := p_limit;
        v_locked boolean := false;
        v_limited boolean;
        v_full text[];
        v_ids uuid[];
        v_n integer;
      begin
        -- a claim lost in a database crash only means the job is claimed again (the old
        -- holder's writes are refused by the fencing token): do not wait for a WAL flush,
        -- nor hold the claim lock through one
        perform set_config('synchronous_commit', 'off', true);
        foreach v_queue in array p_queues loop
          exit when v_left <= 0;
          if not v_locked then${
  lockFree
    ? `
            -- lock-free: the first claimable jobs in claim order, locked as read
            select coalesce(array_agg(c.id order by c.priority desc, c.run_at, c.id), '{}'),
                coalesce(bool_or(c.group_key is not null and c.group_limit is not null), false)
              into v_ids, v_limited
            from (
              select j.id, j.group_key, j.group_limit, j.priority, j.run_at
              from "${s}".jobs j
              where j.status in ('pending', 'retrying') and j.queue = v_queue
                and j.type = any(p_types) and j.run_at <= p_now
              order by j.priority desc, j.run_at, j.id
              limit v_left
              for update of j skip locked
            ) c;
            if not v_limited then
              continue when cardinality(v_ids) = 0;
              return query
              with claimed as (
                update "${s}".jobs j set
                  status = 'processing', attempts = j.attempts + 1, token = j.token + 1,
                  locked_by = p_worker, locked_until = p_now + p_lease_ms * interval '1 millisecond',
                  started_at = p_now, next_retry_at = null, cancel_requested = false, updated_at = p_now
                where j.id = any(v_ids)
                returning j.*
              )
              select * from claimed order by priority desc, run_at, id;
              get diagnostics v_n = row_count;
              v_left := v_left - v_n;
              continue;
            end if;
            -- a limited group among them: claim this queue and the next under the lock`
    : ""
}
            perform pg_advisory_xact_lock(hashtext('jobtrack.claim'), hashtext('${s}'));
            v_locked := true;
            select coalesce(array_agg(f.group_key), '{}') into v_full from (
              select group_key from "${s}".jobs where status = 'processing' and group_key is not null
              group by group_key having count(*) >= max(group_limit)
            ) f;
          end if;
          -- candidates: an ordered scan of jobs_claim, stopped by the limit
          with candidates as (
            select j.id, j.group_key, j.group_limit, j.priority, j.run_at
            from "${s}".jobs j
            where j.status in ('pending', 'retrying') and j.queue = v_queue
              and j.type = any(p_types) and j.run_at <= p_now
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
          -- Lock the chosen rows by primary key (SKIP LOCKED: a row a host is cancelling is
          -- skipped). The status is checked on the locked row's latest version, not in the
          -- scan's condition: a status condition would let the planner, misled by statistics
          -- from before the backlog, walk the whole claim index filtering by id.
          return query
          with locked as (
            select j.id, j.status from "${s}".jobs j
            where j.id = any(v_ids)
            for update skip locked
          ), claimed as (
            update "${s}".jobs j set
              status = 'processing', attempts = j.attempts + 1, token = j.token + 1,
              locked_by = p_worker, locked_until = p_now + p_lease_ms * interval '1 millisecond',
              started_at = p_now, next_retry_at = null, cancel_requested = false, updated_at = p_now
            from locked where j.id = locked.id and locked.status in ('pending', 'retrying')
            returning j.*
          )
          select * from claimed order by priority desc, run_at, id;
          get diagnostics v_n = row_count;
          v_left := v_left - v_n;
        end loop;
      end $fn$;`

/** @internal */
export const v0011 = (s: string): {
  readonly up: (db: Kysely<unknown>) => Promise<void>
  readonly down: (db: Kysely<unknown>) => Promise<void>
} => ({
  up: async (db) => {
    await sql.raw(claimFunction(s, true)).execute(db)
  },
  down: async (db) => {
    await sql.raw(claimFunction(s, false)).execute(db)
  }
})
