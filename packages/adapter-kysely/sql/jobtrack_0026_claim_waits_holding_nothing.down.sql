-- jobtrack migration jobtrack_0026_claim_waits_holding_nothing (down) for the schema "jobtrack".
-- Generated from @jobtrack/adapter-kysely's migrations; run the files in name order.
begin;
create schema if not exists "jobtrack";

create table if not exists "jobtrack".applied_migrations (
  name        text primary key,
  applied_at  timestamptz not null default now()
);
delete from "jobtrack".applied_migrations where name = 'jobtrack_0026_claim_waits_holding_nothing';

create or replace function "jobtrack".claim(
  p_queues text[], p_types text[], p_worker text, p_limit integer,
  p_lease_ms integer, p_now timestamptz
) returns setof "jobtrack".jobs language plpgsql set enable_bitmapscan = off as $fn$
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
        from "jobtrack".jobs j
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
          update "jobtrack".jobs j set
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
      perform pg_advisory_xact_lock(hashtext('jobtrack.claim'), hashtext('jobtrack'));
      v_locked := true;
      select coalesce(array_agg(f.group_key), '{}') into v_full from (
        select group_key from "jobtrack".jobs where status = 'processing' and group_key is not null
        group by group_key having count(*) >= max(group_limit)
      ) f;
    end if;
    with candidates as (
      select j.id, j.group_key, j.group_limit, j.priority, j.run_at
      from "jobtrack".jobs j
      where j.status in ('pending', 'retrying') and j.queue = v_queue
          and j.type = any(p_types) and j.run_at <= p_now
        and (j.group_key is null or not (j.group_key = any(v_full)))
      order by j.priority desc, j.run_at, j.id
      limit v_left * 4 + 16
    ), running as (
      select g.group_key, count(*)::integer as n from "jobtrack".jobs g
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
      select j.id, j.status from "jobtrack".jobs j
      where j.id = any(v_ids)
      for update skip locked
    ), claimed as (
      update "jobtrack".jobs j set
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
end $fn$;

commit;
