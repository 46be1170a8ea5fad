-- jobtrack migration jobtrack_0044_claim_waits_for_a_locked_head (up) for the schema "jobtrack".
-- Generated from @jobtrack/adapter-kysely's migrations; run the files in name order.
begin;
create schema if not exists "jobtrack";

create or replace function "jobtrack".claim(
  p_queues text[], p_types text[], p_worker text, p_limit integer,
  p_lease_ms integer, p_now timestamptz
) returns setof "jobtrack".jobs language plpgsql
  set enable_bitmapscan = off set enable_seqscan = off set plan_cache_mode = force_generic_plan as $fn$
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
  -- do not wait for a WAL flush, nor hold the claim lock through one: a claim lost
  -- in a database crash leaves the job claimable with its previous token, and the
  -- next claim draws a new token at random (migration 0033), so it is not the one
  -- the lost claim handed out and that holder's writes are refused
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
        from "jobtrack".jobs j
        where j.status in ('pending', 'retrying') and j.queue = v_queue
          and j.type = any(p_types) and j.run_at <= p_now
        order by j.priority desc, j.run_at, j.id
        limit v_left
      ) h;
      if not v_limited then
        -- lock-free: the first claimable jobs without a limited group, locked as read,
        -- passing over rows another transaction holds (mostly other claims)
        select coalesce(array_agg(c.id order by c.priority desc, c.run_at, c.id), '{}') into v_ids
        from (
          select j.id, j.priority, j.run_at
          from "jobtrack".jobs j
          where j.status in ('pending', 'retrying') and j.queue = v_queue
          and j.type = any(p_types) and j.run_at <= p_now
            and (j.group_key is null or j.group_limit is null)
          order by j.priority desc, j.run_at, j.id
          limit v_left
          for update of j skip locked
        ) c;
        if cardinality(v_ids) > 0 then
          return query
          with claimed as (
            update "jobtrack".jobs j set
              status = 'processing', attempts = j.attempts + 1, token = ((j.token::bigint + floor(random() * 2147483645)::bigint) % 2147483646 + 1)::integer,
          locked_by = p_worker, locked_until = p_now + p_lease_ms * interval '1 millisecond',
          started_at = p_now, next_retry_at = null, cancel_requested = false, updated_at = p_now
            where j.id = any(v_ids)
            returning j.*
          )
          select * from claimed order by priority desc, run_at, id;
          get diagnostics v_n = row_count;
          v_claimed := v_claimed + v_n;
          v_left := v_left - v_n;
        end if;
        if v_claimed = 0 and not v_waited and cardinality(v_head) > 0 then
          -- every job at the head was locked by another transaction and this claim holds no
          -- row: wait for the first (a writer that only re-checked a row holds it to its commit)
          v_waited := true;
          v_timeout := current_setting('lock_timeout');
          if v_timeout::interval = interval '0' or v_timeout::interval > interval '500 milliseconds' then
            perform set_config('lock_timeout', '500ms', true);
          end if;
          begin
            perform 1 from "jobtrack".jobs j where j.id = v_head[1] for update of j;
          exception when lock_not_available or deadlock_detected then
            null;
          end;
          perform set_config('lock_timeout', v_timeout, true);
          -- the head again: the row waited for if it is still claimable, and any other free one
          select coalesce(array_agg(c.id order by c.priority desc, c.run_at, c.id), '{}') into v_ids
          from (
            select j.id, j.priority, j.run_at
            from "jobtrack".jobs j
            where j.status in ('pending', 'retrying') and j.queue = v_queue
          and j.type = any(p_types) and j.run_at <= p_now
              and (j.group_key is null or j.group_limit is null)
            order by j.priority desc, j.run_at, j.id
            limit v_left
            for update of j skip locked
          ) c;
          if cardinality(v_ids) > 0 then
            return query
            with claimed as (
              update "jobtrack".jobs j set
                status = 'processing', attempts = j.attempts + 1, token = ((j.token::bigint + floor(random() * 2147483645)::bigint) % 2147483646 + 1)::integer,
            locked_by = p_worker, locked_until = p_now + p_lease_ms * interval '1 millisecond',
            started_at = p_now, next_retry_at = null, cancel_requested = false, updated_at = p_now
              where j.id = any(v_ids)
              returning j.*
            )
            select * from claimed order by priority desc, run_at, id;
            get diagnostics v_n = row_count;
            v_claimed := v_claimed + v_n;
            v_left := v_left - v_n;
          end if;
        end if;
        continue when v_left <= 0;
        -- fewer free jobs than wanted: go on under the lock only if a limited group waits
        continue when not exists (
          select 1 from "jobtrack".jobs j
          where j.status in ('pending', 'retrying') and j.queue = v_queue
          and j.type = any(p_types) and j.run_at <= p_now
            and j.group_key is not null and j.group_limit is not null
        );
      end if;
      -- a limited group in this queue: claim it and the next queues under the lock,
      -- holding no row of this queue while waiting for it
      perform pg_advisory_xact_lock(hashtext('jobtrack.claim'), hashtext('jobtrack'));
      v_locked := true;
    end if;
    v_passed := '{}';
    loop
      v_window := v_left * 4 + 16;
      -- groups already full, this claim's own claims counted
      select coalesce(array_agg(f.group_key), '{}') into v_full from (
        select group_key from "jobtrack".jobs where status = 'processing' and group_key is not null
        group by group_key having count(*) >= max(group_limit)
      ) f;
      -- candidates: an ordered scan of jobs_claim, stopped by the limit
      with candidates as (
        select j.id, j.group_key, j.group_limit, j.priority, j.run_at
        from "jobtrack".jobs j
        where j.status in ('pending', 'retrying') and j.queue = v_queue
          and j.type = any(p_types) and j.run_at <= p_now
          and (j.group_key is null or not (j.group_key = any(v_full)))
          and not (j.id = any(v_passed))
        order by j.priority desc, j.run_at, j.id
        limit v_window
      ), running as (
        select g.group_key, count(*)::integer as n from "jobtrack".jobs g
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
        select j.id, j.status from "jobtrack".jobs j
        where j.id = any(v_ids)
        for update skip locked
      ), claimed as (
        update "jobtrack".jobs j set
          status = 'processing', attempts = j.attempts + 1, token = ((j.token::bigint + floor(random() * 2147483645)::bigint) % 2147483646 + 1)::integer,
          locked_by = p_worker, locked_until = p_now + p_lease_ms * interval '1 millisecond',
          started_at = p_now, next_retry_at = null, cancel_requested = false, updated_at = p_now
        from locked where j.id = locked.id and locked.status in ('pending', 'retrying')
        returning j.*
      )
      select * from claimed order by priority desc, run_at, id;
      get diagnostics v_n = row_count;
          v_claimed := v_claimed + v_n;
      v_left := v_left - v_n;
      -- done when the limit is filled, or when every chosen job was claimed and the scan
      -- saw every candidate left; otherwise the next candidates (the groups this claim
      -- filled are now left out, the rows held by others passed over)
      exit when v_left <= 0 or (v_n = cardinality(v_ids) and v_seen < v_window);
      v_passed := v_passed || v_ids;
    end loop;
  end loop;
  if v_claimed > 0 then
    perform nextval('"jobtrack".claimable_left') from generate_series(1, v_claimed);
  end if;
end $fn$;

create table if not exists "jobtrack".applied_migrations (
  name        text primary key,
  applied_at  timestamptz not null default now()
);
insert into "jobtrack".applied_migrations (name) values ('jobtrack_0044_claim_waits_for_a_locked_head') on conflict (name) do nothing;

commit;
