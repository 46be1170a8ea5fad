-- jobtrack migration jobtrack_0041_view_statement_counts_only_when_needed (up) for the schema "jobtrack".
-- Generated from @jobtrack/adapter-kysely's migrations; run the files in name order.
begin;
create schema if not exists "jobtrack";

-- [walked, counted] of a pending job not behind its queue's boundary: job_view_flat4's count (migration 0040)
create function "jobtrack".position_place(queue text, priority int, run_at timestamptz, p_id uuid, group_key text,
  p_t timestamptz)
  returns int[] language plpgsql stable
  set plan_cache_mode = force_generic_plan set enable_sort = off set enable_bitmapscan = off set jit = off as $fn$
#variable_conflict use_variable
declare
  c int[];
  walked int;
  v_until timestamptz;
  v_id uuid;
  v_p int;
  v_n int := 0;
  v_l int := 0;
  v_c int;
  v_lc int;
  v_other boolean := false;
begin
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
  else
    c := array[walked, walked];
  end if;
  return c;
end
$fn$;

-- the job's columns, its steps, and when pending its position: behind the boundary, or counted by position_place
create function "jobtrack".job_view5(p_id uuid, p_t timestamptz, p_bounds jsonb)
  returns table (id uuid, type text, queue text, payload jsonb, result jsonb, status text, progress double precision, progress_message text, error_message text, errors jsonb, attempts integer, max_attempts integer, priority integer, run_at timestamptz, owner text, key text, group_key text, group_limit integer, locked_by text, locked_until timestamptz, token integer, cancel_requested boolean, created_at timestamptz, started_at timestamptz, completed_at timestamptz, next_retry_at timestamptz, updated_at timestamptz, traceparent text,
    steps jsonb, departed bigint, behind boolean, walked int, counted int)
  language sql stable as $fn$
  select x.id, x.type, x.queue, x.payload, x.result, x.status, x.progress, x.progress_message, x.error_message, x.errors, x.attempts, x.max_attempts, x.priority, x.run_at, x.owner, x.key, x.group_key, x.group_limit, x.locked_by, x.locked_until, x.token, x.cancel_requested, x.created_at, x.started_at, x.completed_at, x.next_retry_at, x.updated_at, x.traceparent,
    (select coalesce(jsonb_agg(to_jsonb(st) - 'result' - 'job_id' order by st.idx), '[]'::jsonb)
      from "jobtrack".job_steps st where st.job_id = x.id),
    p.departed, p.behind, p.c[1], p.c[2]
  from "jobtrack".jobs x
  left join lateral (
    -- a pending job only (a one-time filter: nothing here runs for any other)
    select d.departed, d.behind,
      case when not d.behind then "jobtrack".position_place(x.queue, x.priority, x.run_at, x.id, x.group_key, p_t) end as c
    from (
      -- after the boundary's claim key (priority desc, run_at, id), and no more left than it allows
      select d.departed, d.b is not null and d.departed <= (d.b ->> 3)::bigint
          and row(-x.priority::bigint, (extract(epoch from x.run_at) * 1000000)::bigint, x.id)
            > row(-(d.b ->> 0)::bigint, (d.b ->> 1)::bigint, (d.b ->> 2)::uuid) as behind
      from (
        select coalesce(pg_sequence_last_value('"jobtrack".claimable_left'::regclass), 0) as departed,
          p_bounds -> x.queue as b
        where x.status = 'pending' offset 0
      ) d offset 0
    ) d
  ) p on true
  where x.id = p_id
$fn$;

create table if not exists "jobtrack".applied_migrations (
  name        text primary key,
  applied_at  timestamptz not null default now()
);
insert into "jobtrack".applied_migrations (name) values ('jobtrack_0041_view_statement_counts_only_when_needed') on conflict (name) do nothing;

commit;
