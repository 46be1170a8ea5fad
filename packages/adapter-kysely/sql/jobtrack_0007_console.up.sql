-- jobtrack migration jobtrack_0007_console (up) for the schema "jobtrack".
-- Generated from @jobtrack/adapter-kysely's migrations; run the files in name order.
begin;
create schema if not exists "jobtrack";

create table "jobtrack".audit (
  id      uuid primary key,
  at      timestamptz not null,
  actor   text not null,
  action  text not null,
  target  jsonb not null,
  count   bigint,
  job_id  uuid
);
create index jobs_admin_created on "jobtrack".jobs (created_at, id);
create index jobs_admin_status_created on "jobtrack".jobs (status, created_at, id);
create index jobs_admin_finished on "jobtrack".jobs (completed_at, id) where completed_at is not null;

create table if not exists "jobtrack".applied_migrations (
  name        text primary key,
  applied_at  timestamptz not null default now()
);
insert into "jobtrack".applied_migrations (name) values ('jobtrack_0007_console') on conflict (name) do nothing;

commit;
