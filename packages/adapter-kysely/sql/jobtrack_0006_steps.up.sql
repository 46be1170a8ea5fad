-- jobtrack migration jobtrack_0006_steps (up) for the schema "jobtrack".
-- Generated from @jobtrack/adapter-kysely's migrations; run the files in name order.
begin;
create schema if not exists "jobtrack";

create table "jobtrack".job_steps (
  job_id        uuid not null references "jobtrack".jobs (id) on delete cascade,
  name          text not null,
  idx           integer not null check (idx >= 0),
  status        text not null check (status in ('running', 'completed', 'failed')),
  attempts      integer not null default 0,
  result        jsonb,
  error         text,
  started_at    timestamptz,
  completed_at  timestamptz,
  primary key (job_id, name)
);

create table if not exists "jobtrack".applied_migrations (
  name        text primary key,
  applied_at  timestamptz not null default now()
);
insert into "jobtrack".applied_migrations (name) values ('jobtrack_0006_steps') on conflict (name) do nothing;

commit;
