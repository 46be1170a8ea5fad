-- jobtrack migration jobtrack_0025_console_index_writes (down) for the schema "jobtrack".
-- Generated from @jobtrack/adapter-kysely's migrations; run the files in name order.
begin;
create schema if not exists "jobtrack";

create table if not exists "jobtrack".applied_migrations (
  name        text primary key,
  applied_at  timestamptz not null default now()
);
delete from "jobtrack".applied_migrations where name = 'jobtrack_0025_console_index_writes';

create index if not exists jobs_admin_status_created on "jobtrack".jobs (status, created_at, id) include (queue, type, owner);
drop index if exists "jobtrack".jobs_admin_off_path;

commit;
