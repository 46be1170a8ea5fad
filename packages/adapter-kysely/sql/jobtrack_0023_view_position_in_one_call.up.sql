-- jobtrack migration jobtrack_0023_view_position_in_one_call (up) for the schema "jobtrack".
-- Generated from @jobtrack/adapter-kysely's migrations; run the files in name order.
begin;
create schema if not exists "jobtrack";

-- [walked, counted] over the first p_limit claimable jobs ahead of j: another limited
-- group's job counts only while its group has room (running + its jobs ahead < limit)
create function "jobtrack".position_walk(j "jobtrack".jobs, p_t timestamptz, p_limit int)
  returns int[] language plpgsql stable
  set plan_cache_mode = force_generic_plan set enable_sort = off set enable_bitmapscan = off set jit = off as $fn$
declare
  result int[];
begin
  with w as materialized (
    select * from (
    (select o.id, o.group_key, o.group_limit, o.priority, o.run_at from "jobtrack".jobs o
      where o.queue = j.queue and o.status in ('pending', 'retrying') and o.run_at <= p_t
        and o.priority > j.priority
      order by o.priority desc, o.run_at, o.id limit p_limit)
    union all
    (select o.id, o.group_key, o.group_limit, o.priority, o.run_at from "jobtrack".jobs o
      where o.queue = j.queue and o.status in ('pending', 'retrying') and o.run_at <= p_t
        and o.priority = j.priority and (o.run_at, o.id) < (j.run_at, j.id)
      order by o.priority desc, o.run_at, o.id limit p_limit)
    ) o limit p_limit
  ), others as (
    select w.group_key, w.group_limit,
      row_number() over (partition by w.group_key order by w.priority desc, w.run_at, w.id) - 1 as before
    from w where w.group_key is not null and w.group_limit is not null and w.group_key is distinct from j.group_key
  ), running as (
    select r.group_key, count(*) as n from "jobtrack".jobs r
    where r.status = 'processing' and r.group_key in (select others.group_key from others)
    group by r.group_key
  )
  select array[
    (select count(*) from w),
    (select count(*) from w where w.group_key is null or w.group_limit is null or w.group_key = j.group_key)
      + (select count(*) from others left join running on running.group_key = others.group_key
         where others.before + coalesce(running.n, 0) < others.group_limit)
  ]::int[] into result;
  return result;
end
$fn$;

create function "jobtrack".view_row(p_id uuid, p_t timestamptz, p_bounds jsonb)
  returns table (job "jobtrack".jobs, steps jsonb, departed text, behind boolean, walked int, counted int)
  language plpgsql stable
  set plan_cache_mode = force_generic_plan set enable_sort = off set enable_bitmapscan = off set jit = off as $fn$
declare
  j "jobtrack".jobs;
  b jsonb;
  n bigint;
  others int;
  c int[];
begin
  select * into j from "jobtrack".jobs where id = p_id;
  if not found then
    return;
  end if;
  job := j;
  steps := (select coalesce(jsonb_agg(to_jsonb(st) - 'result' - 'job_id' order by st.idx), '[]'::jsonb)
    from "jobtrack".job_steps st where st.job_id = p_id);
  if j.status = 'pending' then
    n := coalesce(pg_sequence_last_value('"jobtrack".claimable_left'::regclass), 0);
    departed := n::text;
    b := p_bounds -> j.queue;
    -- after the boundary's claim key (priority desc, run_at, id), and no more left than it allows
    behind := b is not null and n <= (b ->> 3)::bigint
      and row(-j.priority::bigint, (extract(epoch from j.run_at) * 1000000)::bigint, j.id)
        > row(-(b ->> 0)::bigint, (b ->> 1)::bigint, (b ->> 2)::uuid);
    if not behind then
      select count(*)::int,
        count(*) filter (where o.group_key is not null and o.group_limit is not null
          and o.group_key is distinct from j.group_key)::int
        into walked, others
      from (
    (select o.group_key, o.group_limit from "jobtrack".jobs o
      where o.queue = j.queue and o.status in ('pending', 'retrying') and o.run_at <= p_t
        and o.priority > j.priority
      order by o.priority desc, o.run_at, o.id limit 1000)
    union all
    (select o.group_key, o.group_limit from "jobtrack".jobs o
      where o.queue = j.queue and o.status in ('pending', 'retrying') and o.run_at <= p_t
        and o.priority = j.priority and (o.run_at, o.id) < (j.run_at, j.id)
      order by o.priority desc, o.run_at, o.id limit 1000)
        limit 1000) o;
      counted := walked;
      if others > 0 then
        c := "jobtrack".position_walk(j, p_t, 1000);
        walked := c[1];
        counted := c[2];
        if walked >= 1000 and counted < 1000 then
          c := "jobtrack".position_walk(j, p_t, 10000);
          walked := c[1];
          counted := c[2];
        end if;
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
insert into "jobtrack".applied_migrations (name) values ('jobtrack_0023_view_position_in_one_call') on conflict (name) do nothing;

commit;
