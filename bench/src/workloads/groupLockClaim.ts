/**
 * A prototype, for measurement only (issue 13, item 7): `claim()` with one
 * transaction advisory lock per limited group instead of one per schema.
 * Not shipped by any migration; `scaleOutIo.ts` installs it in its own schema
 * with SCALE_IO_CLAIM=group-locks to measure what the design change would
 * give (docs/scaling.md, "Does the claim lock limit throughput?").
 *
 * It differs from migration 0011's claim only on the path for limited groups:
 *
 * - the jobs are first chosen without a group lock, as migration 0004 chooses
 *   them under the schema's lock (full groups skipped, candidates ranked in
 *   their group against its running jobs), from snapshots, the candidates
 *   locked as read with SKIP LOCKED so that concurrent claims choose different
 *   jobs;
 * - only the chosen jobs' limited groups are locked, each by
 *   `pg_advisory_xact_lock(hashtext('jobtrack.group:<schema>'), hashtext(group_key))`,
 *   in the order of that hash (then the key): a claimer waits only for
 *   claimers of the same groups, and waits in one global order, so two
 *   claimers cannot deadlock. In a later queue of the same claim (which
 *   already holds group locks) the locks are only tried
 *   (`pg_try_advisory_xact_lock`), and the jobs of a group not obtained are
 *   left for the next claim;
 * - the choice is checked under those locks: the running jobs of each group
 *   are counted again (a new statement, so a new snapshot: every claim that
 *   held one of these locks before has committed), and a chosen job is kept
 *   only if its rank among the chosen of its group plus that count stays
 *   within the limit.
 *
 * Group limits stay exact by the same argument as the per-schema lock: a job
 * of a limited group is only claimed by a claim that holds its group's lock
 * and counted the group's running jobs after the previous holder committed.
 * A hash collision between two groups only makes their claimers wait for
 * each other.
 *
 * Known flaw (found by the conformance suite, rule 5, run locally with this
 * function in place of migration 0014's step): limits held, but a candidate a
 * claim locked and did not choose stays hidden from concurrent claims until
 * it commits, so 16 concurrent claims of 3 took 3 of 4 ungrouped jobs in 2
 * of 7 runs. Measured results and the judgment: docs/scaling.md.
 */
export const groupLockClaim = (s: string): string => `
      create or replace function "${s}".claim(
        p_queues text[], p_types text[], p_worker text, p_limit integer,
        p_lease_ms integer, p_now timestamptz
      ) returns setof "${s}".jobs language plpgsql
      set enable_bitmapscan = off
      as $fn$
      declare
        v_queue text;
        v_left integer := p_limit;
        v_holds boolean := false;
        v_limited boolean;
        v_full text[];
        v_groups text[];
        v_skip text[];
        v_group text;
        v_ids uuid[];
        v_n integer;
      begin
        perform set_config('synchronous_commit', 'off', true);
        foreach v_queue in array p_queues loop
          exit when v_left <= 0;
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
          -- a limited group among them. First a tentative choice from snapshots, without a lock:
          -- groups that look full are skipped, candidates ranked in their group against its
          -- running jobs (as migration 0004 chooses under the schema's lock)
          select coalesce(array_agg(f.group_key), '{}') into v_full from (
            select group_key from "${s}".jobs where status = 'processing' and group_key is not null
            group by group_key having count(*) >= max(group_limit)
          ) f;
          with candidates as (
            select j.id, j.group_key, j.group_limit, j.priority, j.run_at
            from "${s}".jobs j
            where j.status in ('pending', 'retrying') and j.queue = v_queue
              and j.type = any(p_types) and j.run_at <= p_now
              and (j.group_key is null or not (j.group_key = any(v_full)))
            order by j.priority desc, j.run_at, j.id
            limit v_left * 4 + 16
            -- passing over the jobs other claimers hold, so that concurrent claims choose
            -- different jobs (and mostly different groups) instead of queueing for the same
            for update of j skip locked
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
          -- the chosen jobs' limited groups, locked in one global order (hash, then key)
          select coalesce(array_agg(g.group_key order by hashtext(g.group_key), g.group_key), '{}') into v_groups from (
            select distinct j.group_key from "${s}".jobs j
            where j.id = any(v_ids) and j.group_key is not null and j.group_limit is not null
          ) g;
          v_skip := '{}';
          foreach v_group in array v_groups loop
            if not v_holds then
              perform pg_advisory_xact_lock(hashtext('jobtrack.group:${s}'), hashtext(v_group));
            elsif not pg_try_advisory_xact_lock(hashtext('jobtrack.group:${s}'), hashtext(v_group)) then
              v_skip := v_skip || v_group;
            end if;
          end loop;
          v_holds := v_holds or cardinality(v_groups) > 0;
          -- the choice checked under the groups' locks (a new statement, so a new snapshot: every
          -- claim that held one of these locks before has committed): each chosen job of a limited
          -- group is kept only if its rank among the chosen of its group plus the group's running
          -- jobs stays within the limit
          with chosen as (
            select j.id, j.group_key, j.group_limit, j.priority, j.run_at,
              row_number() over (partition by j.group_key order by j.priority desc, j.run_at, j.id) as rn
            from "${s}".jobs j where j.id = any(v_ids)
          ), running as (
            select g.group_key, count(*)::integer as n from "${s}".jobs g
            where g.status = 'processing' and g.group_key = any(v_groups)
            group by g.group_key
          )
          select coalesce(array_agg(c.id order by c.priority desc, c.run_at, c.id), '{}') into v_ids
          from chosen c left join running g on g.group_key = c.group_key
          where c.group_key is null or c.group_limit is null
            or (c.group_key = any(v_groups) and not (c.group_key = any(v_skip))
                and c.rn + coalesce(g.n, 0) <= c.group_limit);
          continue when cardinality(v_ids) = 0;
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
