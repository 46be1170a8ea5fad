-- jobtrack migration jobtrack_0018_console_type_queue_ranges (up) for the schema "jobtrack".
-- Generated from @jobtrack/adapter-kysely's migrations; run the files in name order.
begin;
create schema if not exists "jobtrack";

create index if not exists jobs_admin_type_created on "jobtrack".jobs (type, status, created_at, id) include (queue, owner);

create index if not exists jobs_admin_queue_created on "jobtrack".jobs (queue, status, created_at, id) include (type, owner);

create table if not exists "jobtrack".applied_migrations (
  name        text primary key,
  applied_at  timestamptz not null default now()
);
insert into "jobtrack".applied_migrations (name) values ('jobtrack_0018_console_type_queue_ranges') on conflict (name) do nothing;

commit;
