-- jobtrack migration jobtrack_0003_hook_deliveries (up) for the schema "jobtrack".
-- Generated from @jobtrack/adapter-kysely's migrations; run the files in name order.
begin;
create schema if not exists "jobtrack";

create table "jobtrack".hook_deliveries (
  id            uuid primary key,
  job_id        uuid not null,
  type          text not null,
  event         text not null check (event in ('completed', 'failed', 'cancelled')),
  job           jsonb not null,
  status        text not null default 'pending' check (status in ('pending', 'delivering', 'dead')),
  attempts      integer not null default 0,
  token         integer not null default 0,
  locked_by     text,
  -- pending: the next attempt; delivering: the lease's end
  available_at  timestamptz not null,
  last_error    text,
  created_at    timestamptz not null
);
create index hook_deliveries_claim on "jobtrack".hook_deliveries (available_at, id) where status <> 'dead';
create index hook_deliveries_created_at on "jobtrack".hook_deliveries (created_at);

-- one notification per statement and (type, event), so a batch of completions is one
create function "jobtrack".notify_hook() returns trigger language plpgsql as $fn$
declare r record;
begin
  for r in select type, event, min(job_id::text) as id, min(job->>'queue') as queue
    from inserted group by type, event loop
    perform pg_notify('jobtrack:jobtrack', json_build_object(
      'i', r.id, 't', r.type, 'q', r.queue, 'k', 'hook', 's', r.event)::text);
  end loop;
  return null;
end $fn$;
create trigger hook_deliveries_notify after insert on "jobtrack".hook_deliveries
  referencing new table as inserted for each statement execute function "jobtrack".notify_hook();

create table if not exists "jobtrack".applied_migrations (
  name        text primary key,
  applied_at  timestamptz not null default now()
);
insert into "jobtrack".applied_migrations (name) values ('jobtrack_0003_hook_deliveries') on conflict (name) do nothing;

commit;
