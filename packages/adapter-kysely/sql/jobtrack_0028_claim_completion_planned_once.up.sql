-- jobtrack migration jobtrack_0028_claim_completion_planned_once (up) for the schema "jobtrack".
-- Generated from @jobtrack/adapter-kysely's migrations; run the files in name order.
begin;
create schema if not exists "jobtrack";

create or replace function "jobtrack".complete_many(p_items jsonb, p_now timestamptz)
returns table (completed uuid) language plpgsql set plan_cache_mode = force_generic_plan as $fn$
declare
  v_ids uuid[];
  -- A parameter of the generic plan, not a constant: the planner cannot prove the
  -- partial indexes of running jobs from it, so it finds the jobs by primary key (with
  -- 'processing' written out and statistics that saw no running job, it chose
  -- jobs_processing and filtered its entries by id)
  v_processing constant text := 'processing';
begin
  -- the jobs by primary key: never a scan of the running jobs
  v_ids := array(select (e ->> 'id')::uuid from jsonb_array_elements(p_items) e);
  if not exists (select 1 from "jobtrack".hook_subscriptions h where h.event = 'completed') then
    return query
    update "jobtrack".jobs j set status = 'completed', result = v.result, progress = 100,
      error_message = null, locked_by = null, locked_until = null, cancel_requested = false,
      completed_at = p_now, updated_at = p_now
    from jsonb_to_recordset(p_items) as v(id uuid, token integer, result jsonb)
    where j.id = any(v_ids) and j.id = v.id and j.token = v.token and j.status = v_processing
    returning j.id;
    return;
  end if;
  return query
  with moved as (
    update "jobtrack".jobs j set status = 'completed', result = v.result, progress = 100,
      error_message = null, locked_by = null, locked_until = null, cancel_requested = false,
      completed_at = p_now, updated_at = p_now
    from jsonb_to_recordset(p_items) as v(id uuid, token integer, result jsonb)
    where j.id = any(v_ids) and j.id = v.id and j.token = v.token and j.status = v_processing
    returning j.*
  ), recorded as (
    insert into "jobtrack".hook_deliveries (id, job_id, type, event, job, available_at, created_at)
    select gen_random_uuid(), m.id, m.type, m.status, to_jsonb(m), m.updated_at, m.updated_at
    from moved m
    where exists (select 1 from "jobtrack".hook_subscriptions h where h.type = m.type and h.event = m.status)
  )
  select m.id from moved m;
end $fn$;

alter function "jobtrack".claim(text[], text[], text, integer, integer, timestamptz) set plan_cache_mode = force_generic_plan;

create table if not exists "jobtrack".applied_migrations (
  name        text primary key,
  applied_at  timestamptz not null default now()
);
insert into "jobtrack".applied_migrations (name) values ('jobtrack_0028_claim_completion_planned_once') on conflict (name) do nothing;

commit;
