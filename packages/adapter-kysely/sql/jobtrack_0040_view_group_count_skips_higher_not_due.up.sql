-- jobtrack migration jobtrack_0040_view_group_count_skips_higher_not_due (up) for the schema "jobtrack".
-- Generated from @jobtrack/adapter-kysely's migrations; run the files in name order.
begin;
create schema if not exists "jobtrack";

-- [walked, counted] over the first 1,000 claimable jobs ahead of the job, in claim order, as 0027's
-- position_count (and 0023's position_walk) count them, the higher priorities one at a time
create function "jobtrack".position_count2(p_queue text, p_priority int, p_run_at timestamptz, p_id uuid,
  p_group_key text, p_t timestamptz)
  returns int[] language plpgsql stable
  set plan_cache_mode = force_generic_plan set enable_sort = off set enable_bitmapscan = off set jit = off as $fn$
declare
  v_limit int := 1000;
  c int[];
begin
  loop
    with recursive p (priority) as (
      -- the higher priorities with a claimable job, highest first, one descent of jobs_claim each (due or
      -- not: a skip scan), read only as the walk reaches them
      (select o.priority from "jobtrack".jobs o
        where o.queue = p_queue and o.status in ('pending', 'retrying') and o.priority > p_priority order by o.priority desc, o.run_at, o.id limit 1)
      union all
      select (select o.priority from "jobtrack".jobs o
          where o.queue = p_queue and o.status in ('pending', 'retrying') and o.priority > p_priority and o.priority < p.priority order by o.priority desc, o.run_at, o.id limit 1)
      from p where p.priority is not null
    ), w as materialized (
      -- the first v_limit due jobs ahead in claim order: each higher priority's due jobs (a range that ends
      -- at the first job not due), then the same priority's before the job (0023's second range)
      select * from (
        (select o.id, o.group_key, o.group_limit, o.priority, o.run_at from p cross join lateral (
          select o.id, o.group_key, o.group_limit, o.priority, o.run_at from "jobtrack".jobs o
          where o.queue = p_queue and o.status in ('pending', 'retrying') and o.priority = p.priority and o.run_at <= p_t order by o.priority desc, o.run_at, o.id limit v_limit) o
          where p.priority is not null)
        union all
        (select o.id, o.group_key, o.group_limit, o.priority, o.run_at from "jobtrack".jobs o
          where o.queue = p_queue and o.status in ('pending', 'retrying') and o.run_at <= p_t and o.priority = p_priority
            and (o.run_at, o.id) < (p_run_at, p_id)
          order by o.priority desc, o.run_at, o.id limit v_limit)
      ) o limit v_limit
    ), others as (
      -- 0023's position_walk from here: another limited group's job counts only while its group has room
      select w.group_key, w.group_limit,
        row_number() over (partition by w.group_key order by w.priority desc, w.run_at, w.id) - 1 as before
      from w where w.group_key is not null and w.group_limit is not null and w.group_key is distinct from p_group_key
    ), running as (
      select r.group_key, count(*) as n from "jobtrack".jobs r
      where r.status = 'processing' and r.group_key in (select others.group_key from others)
      group by r.group_key
    )
    select array[
      (select count(*) from w),
      (select count(*) from w where w.group_key is null or w.group_limit is null or w.group_key = p_group_key)
        + (select count(*) from others left join running on running.group_key = others.group_key
           where others.before + coalesce(running.n, 0) < others.group_limit)
    ]::int[] into c;
    -- as position_count: past the first 1,000 when fewer than 1,000 of them count
    exit when v_limit > 1000 or not (c[1] >= 1000 and c[2] < 1000);
    v_limit := 10000;
  end loop;
  return c;
end
$fn$;

-- the job's columns, its steps, and when pending its position: behind the boundary, or counted here
create function "jobtrack".job_view_flat4(p_id uuid, p_t timestamptz, p_bounds jsonb)
  returns table (id uuid, type text, queue text, payload jsonb, result jsonb, status text, progress double precision, progress_message text, error_message text, errors jsonb, attempts integer, max_attempts integer, priority integer, run_at timestamptz, owner text, key text, group_key text, group_limit integer, locked_by text, locked_until timestamptz, token integer, cancel_requested boolean, created_at timestamptz, started_at timestamptz, completed_at timestamptz, next_retry_at timestamptz, updated_at timestamptz, traceparent text,
    steps jsonb, departed bigint, behind boolean, walked int, counted int)
  language plpgsql stable
  set plan_cache_mode = force_generic_plan set enable_sort = off set enable_bitmapscan = off set jit = off as $fn$
#variable_conflict use_variable
declare
  b jsonb;
  c int[];
  v_until timestamptz;
  v_id uuid;
  v_p int;
  v_n int := 0;
  v_l int := 0;
  v_c int;
  v_lc int;
  v_other boolean := false;
begin
  -- one statement for the row and its steps, into the output columns (every column qualified)
  select x.id, x.type, x.queue, x.payload, x.result, x.status, x.progress, x.progress_message, x.error_message, x.errors, x.attempts, x.max_attempts, x.priority, x.run_at, x.owner, x.key, x.group_key, x.group_limit, x.locked_by, x.locked_until, x.token, x.cancel_requested, x.created_at, x.started_at, x.completed_at, x.next_retry_at, x.updated_at, x.traceparent,
      (select coalesce(jsonb_agg(to_jsonb(st) - 'result' - 'job_id' order by st.idx), '[]'::jsonb)
        from "jobtrack".job_steps st where st.job_id = p_id)
    into id, type, queue, payload, result, status, progress, progress_message, error_message, errors, attempts, max_attempts, priority, run_at, owner, key, group_key, group_limit, locked_by, locked_until, token, cancel_requested, created_at, started_at, completed_at, next_retry_at, updated_at, traceparent, steps
    from "jobtrack".jobs x where x.id = p_id;
  if not found then
    return;
  end if;
  if status = 'pending' then
    departed := coalesce(pg_sequence_last_value('"jobtrack".claimable_left'::regclass), 0);
    b := p_bounds -> queue;
    -- after the boundary's claim key (priority desc, run_at, id), and no more left than it allows
    behind := b is not null and departed <= (b ->> 3)::bigint
      and row(-priority::bigint, (extract(epoch from run_at) * 1000000)::bigint, p_id)
        > row(-(b ->> 0)::bigint, (b ->> 1)::bigint, (b ->> 2)::uuid);
    if not behind then
      -- where the same-priority range ends: before the job when it is due, else after every due job
      if run_at <= p_t then
        v_until := run_at;
        v_id := p_id;
      else
        v_until := p_t + interval '1 microsecond';
        v_id := '00000000-0000-0000-0000-000000000000';
      end if;
      -- the highest higher priority with a claimable job; when there is none, the count (0035's)
      select x.p, case when x.p is null then case when exists (select 1 from (select o.group_key from "jobtrack".jobs o
            where o.queue = queue and o.status in ('pending', 'retrying') and o.priority = priority and (o.run_at, o.id) < (v_until, v_id) and o.group_key is not null and o.group_limit is not null order by o.priority desc, o.run_at, o.id limit 1000) o
          where o.group_key is distinct from group_key) then -1
        else least(1000, v_n + (select count(*)::int from (select 1 from "jobtrack".jobs o
          where o.queue = queue and o.status in ('pending', 'retrying') and o.priority = priority and (o.run_at, o.id) < (v_until, v_id) order by o.priority desc, o.run_at, o.id limit 1000 - v_n) o)) end end into v_p, walked
        from (select (select o.priority from "jobtrack".jobs o
          where o.queue = queue and o.status in ('pending', 'retrying') and o.priority > priority order by o.priority desc, o.run_at, o.id limit 1) as p offset 0) x;
      -- else the higher priorities one at a time, highest first: each one's due jobs (up to 1,000 in
      -- all) and its limited ones (another group's among the first 1,000 in all), and the next one
      while v_p is not null loop
        select (select count(*)::int from (select 1 from "jobtrack".jobs o where o.queue = queue and o.status in ('pending', 'retrying') and o.priority = v_p and o.run_at <= p_t order by o.priority desc, o.run_at, o.id
            limit 1000 - v_n) o),
            l.n, l.other, (select o.priority from "jobtrack".jobs o
          where o.queue = queue and o.status in ('pending', 'retrying') and o.priority > priority and o.priority < v_p order by o.priority desc, o.run_at, o.id limit 1)
          into v_c, v_lc, v_other, v_p
          from (select count(*)::int as n, coalesce(bool_or(o.group_key is distinct from group_key), false) as other
            from (select o.group_key from "jobtrack".jobs o
              where o.queue = queue and o.status in ('pending', 'retrying') and o.priority = v_p and o.run_at <= p_t and o.group_key is not null and o.group_limit is not null order by o.priority desc, o.run_at, o.id
              limit 1000 - v_l) o) l;
        v_n := v_n + v_c;
        v_l := v_l + v_lc;
        exit when v_other or (v_n >= 1000 and v_l >= 1000);
      end loop;
      if v_other then
        walked := -1;
      elsif walked is null then
        -- the same-priority range (no count when the higher ones reached 1,000: limit 0)
        select case when exists (select 1 from (select o.group_key from "jobtrack".jobs o
            where o.queue = queue and o.status in ('pending', 'retrying') and o.priority = priority and (o.run_at, o.id) < (v_until, v_id) and o.group_key is not null and o.group_limit is not null order by o.priority desc, o.run_at, o.id limit 1000) o
          where o.group_key is distinct from group_key) then -1
        else least(1000, v_n + (select count(*)::int from (select 1 from "jobtrack".jobs o
          where o.queue = queue and o.status in ('pending', 'retrying') and o.priority = priority and (o.run_at, o.id) < (v_until, v_id) order by o.priority desc, o.run_at, o.id limit 1000 - v_n) o)) end into walked;
      end if;
      if walked < 0 then
        c := "jobtrack".position_count2(queue, priority, run_at, p_id, group_key, p_t);
        walked := c[1];
        counted := c[2];
      else
        counted := walked;
      end if;
    end if;
  end if;
  return next;
end
$fn$;

create table if not exists "jobtrack".applied_migrations (
  name        text primary key,
  applied_at  timestamptz not null default now()
);
insert into "jobtrack".applied_migrations (name) values ('jobtrack_0040_view_group_count_skips_higher_not_due') on conflict (name) do nothing;

commit;
