-- jobtrack migration jobtrack_0025_console_index_writes (up) for the schema "jobtrack".
-- Generated from @jobtrack/adapter-kysely's migrations; run the files in name order.
begin;
create schema if not exists "jobtrack";

create index if not exists jobs_admin_off_path on "jobtrack".jobs (status, created_at, id) include (queue, type, owner)
  where status in ('retrying', 'failed', 'cancelled');
drop index if exists "jobtrack".jobs_admin_status_created;

create table if not exists "jobtrack".applied_migrations (
  name        text primary key,
  applied_at  timestamptz not null default now()
);
insert into "jobtrack".applied_migrations (name) values ('jobtrack_0025_console_index_writes') on conflict (name) do nothing;

commit;
