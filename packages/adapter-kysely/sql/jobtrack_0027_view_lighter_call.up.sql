-- jobtrack migration jobtrack_0027_view_lighter_call (up) for the schema "jobtrack".
-- Generated from @jobtrack/adapter-kysely's migrations; run the files in name order.
begin;
create schema if not exists "jobtrack";

-- [walked, counted] over the first 1,000 claimable jobs ahead of the job, in claim order
create function "jobtrack".position_count(p_queue text, p_priority int, p_run_at timestamptz, p_id uuid,
  p_group_key text, p_t timestamptz)
  returns int[] language plpgsql stable
  set plan_cache_mode = force_generic_plan set enable_sort = off set enable_bitmapscan = off set jit = off as $fn$
declare
  walked int;
  others int;
  more int;
  more_others int;
  j "jobtrack".jobs;
  c int[];
begin
  -- a higher priority
  select count(*)::int, count(*) filter (where o.group_key is not null and o.group_limit is not null and o.group_key is distinct from p_group_key)::int into walked, others
  from (select o.group_key, o.group_limit from "jobtrack".jobs o
    where o.queue = p_queue and o.status in ('pending', 'retrying') and o.run_at <= p_t
      and o.priority > p_priority
    order by o.priority desc, o.run_at, o.id limit 1000) o;
  -- the same priority, an earlier (run_at, id)
  if walked < 1000 then
    select count(*)::int, count(*) filter (where o.group_key is not null and o.group_limit is not null and o.group_key is distinct from p_group_key)::int into more, more_others
    from (select o.group_key, o.group_limit from "jobtrack".jobs o
      where o.queue = p_queue and o.status in ('pending', 'retrying') and o.run_at <= p_t
        and o.priority = p_priority and (o.run_at, o.id) < (p_run_at, p_id)
      order by o.priority desc, o.run_at, o.id limit 1000) o;
    -- past 1,000 some of them are not among the first 1,000: others only sends to the walk
    walked := least(1000, walked + more);
    others := others + more_others;
  end if;
  if others = 0 then
    return array[walked, walked];
  end if;
  j.queue := p_queue;
  j.priority := p_priority;
  j.run_at := p_run_at;
  j.id := p_id;
  j.group_key := p_group_key;
  c := "jobtrack".position_walk(j, p_t, 1000);
  if c[1] >= 1000 and c[2] < 1000 then
    c := "jobtrack".position_walk(j, p_t, 10000);
  end if;
  return c;
end
$fn$;

-- the job's row, its steps, and when pending its position: behind the boundary, or counted
create function "jobtrack".job_view(p_id uuid, p_t timestamptz, p_bounds jsonb)
  returns table (job "jobtrack".jobs, steps jsonb, departed bigint, behind boolean, walked int, counted int)
  language plpgsql stable as $fn$
declare
  r record;
  b jsonb;
  c int[];
begin
  -- one statement for the row and its steps
  select x as j, (select coalesce(jsonb_agg(to_jsonb(st) - 'result' - 'job_id' order by st.idx), '[]'::jsonb)
      from "jobtrack".job_steps st where st.job_id = p_id) as s
    into r from "jobtrack".jobs x where x.id = p_id;
  if not found then
    return;
  end if;
  job := r.j;
  steps := r.s;
  if (job).status = 'pending' then
    departed := coalesce(pg_sequence_last_value('"jobtrack".claimable_left'::regclass), 0);
    b := p_bounds -> (job).queue;
    -- after the boundary's claim key (priority desc, run_at, id), and no more left than it allows
    behind := b is not null and departed <= (b ->> 3)::bigint
      and row(-(job).priority::bigint, (extract(epoch from (job).run_at) * 1000000)::bigint, p_id)
        > row(-(b ->> 0)::bigint, (b ->> 1)::bigint, (b ->> 2)::uuid);
    if not behind then
      c := "jobtrack".position_count((job).queue, (job).priority, (job).run_at, p_id, (job).group_key, p_t);
      walked := c[1];
      counted := c[2];
    end if;
  end if;
  return next;
end
$fn$;

create table if not exists "jobtrack".applied_migrations (
  name        text primary key,
  applied_at  timestamptz not null default now()
);
insert into "jobtrack".applied_migrations (name) values ('jobtrack_0027_view_lighter_call') on conflict (name) do nothing;

commit;
