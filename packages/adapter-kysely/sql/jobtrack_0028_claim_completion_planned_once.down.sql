-- jobtrack migration jobtrack_0028_claim_completion_planned_once (down) for the schema "jobtrack".
-- Generated from @jobtrack/adapter-kysely's migrations; run the files in name order.
begin;
create schema if not exists "jobtrack";

create table if not exists "jobtrack".applied_migrations (
  name        text primary key,
  applied_at  timestamptz not null default now()
);
delete from "jobtrack".applied_migrations where name = 'jobtrack_0028_claim_completion_planned_once';

alter function "jobtrack".claim(text[], text[], text, integer, integer, timestamptz) reset plan_cache_mode;

create or replace function "jobtrack".complete_many(p_items jsonb, p_now timestamptz)
returns table (completed uuid) language plpgsql as $fn$
begin
  return query
  with moved as (
    update "jobtrack".jobs j set status = 'completed', result = v.result, progress = 100,
      error_message = null, locked_by = null, locked_until = null, cancel_requested = false,
      completed_at = p_now, updated_at = p_now
    from jsonb_to_recordset(p_items) as v(id uuid, token integer, result jsonb)
    where j.id = v.id and j.token = v.token and j.status = 'processing'
    returning j.*
  ), recorded as (
    insert into "jobtrack".hook_deliveries (id, job_id, type, event, job, available_at, created_at)
    select gen_random_uuid(), m.id, m.type, m.status, to_jsonb(m), m.updated_at, m.updated_at
    from moved m
    where exists (select 1 from "jobtrack".hook_subscriptions h where h.type = m.type and h.event = m.status)
  )
  select m.id from moved m;
end $fn$;

commit;
