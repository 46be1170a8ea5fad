/**
 * Migration 0004: a claim whose plan does not depend on statistics or on the
 * size of the history, and hook subscriptions.
 *
 * - `claim`: the chosen ids are collected into an array first and locked by
 *   primary key (`id = any(…)`), the status checked on the locked row rather
 *   than in the scan, so no statistics, however stale (a backlog that arrived
 *   after the last ANALYZE, a year of finished jobs), can turn the lock step
 *   into a walk of the claim index. Candidates come from the partial index
 *   `jobs_claim`, which holds claimable jobs only: finished jobs, however many,
 *   are in no index the claim reads. A job with a group key and no group
 *   limit is claimable (its group is unlimited, as in MemoryStore).
 * - `hook_subscriptions`: the (type, event) pairs some process has a hook for.
 *   A terminal transition records a hook delivery only for those, so a host
 *   without hooks writes no outbox row per finished job.
 *
 * Down restores the previous claim's group rule and drops the subscriptions.
 *
 * @since 0.2.0
 */
import { sql } from "../kyselyModule.js"
import type { Kysely } from "kysely"

/** The claim function: candidates from `jobs_claim`, chosen ids locked by primary key. */
const claimFunction = (s: string) => `
      create or replace function "${s}".claim(
        p_queues text[], p_types text[], p_worker text, p_limit integer,
        p_lease_ms integer, p_now timestamptz
      ) returns setof "${s}".jobs language plpgsql as $fn$
      declare
        v_queue text;
        v_left integer := p_limit;
        v_full text[];
        v_ids uuid[];
        v_n integer;
      begin
        perform pg_advisory_xact_lock(hashtext('jobtrack.claim'), hashtext('${s}'));
        -- the lock is held until commit: do not hold it through a WAL flush. A claim lost in
        -- a database crash only means the job is claimed again (the old holder's writes are
        -- refused by the fencing token), which at-least-once execution allows anyway.
        perform set_config('synchronous_commit', 'off', true);
        select coalesce(array_agg(f.group_key), '{}') into v_full from (
          select group_key from "${s}".jobs where status = 'processing' and group_key is not null
          group by group_key having count(*) >= max(group_limit)
        ) f;
        foreach v_queue in array p_queues loop
          exit when v_left <= 0;
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
export const v0004 = (s: string): {
  readonly up: (db: Kysely<unknown>) => Promise<void>
  readonly down: (db: Kysely<unknown>) => Promise<void>
} => ({
  up: async (db) => {
    await sql.raw(`
      ${claimFunction(s)}
      create table "${s}".hook_subscriptions (
        type           text not null,
        event          text not null check (event in ('completed', 'failed', 'cancelled')),
        registered_at  timestamptz not null default now(),
        primary key (type, event)
      );
    `).execute(db)
  },
  down: async (db) => {
    await sql.raw(`
      drop table if exists "${s}".hook_subscriptions;
      ${claimFunction(s)
      .replace("where c.group_key is null or c.group_limit is null or c.rn", "where c.group_key is null or c.rn")}
    `).execute(db)
  }
})
