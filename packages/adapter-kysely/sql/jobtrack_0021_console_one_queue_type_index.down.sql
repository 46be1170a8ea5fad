-- jobtrack migration jobtrack_0021_console_one_queue_type_index (down) for the schema "jobtrack".
-- Generated from @jobtrack/adapter-kysely's migrations; run the files in name order.
begin;
create schema if not exists "jobtrack";

create table if not exists "jobtrack".applied_migrations (
  name        text primary key,
  applied_at  timestamptz not null default now()
);
delete from "jobtrack".applied_migrations where name = 'jobtrack_0021_console_one_queue_type_index';

drop index if exists "jobtrack".jobs_admin_queue_type_created;
create index if not exists jobs_admin_type_created on "jobtrack".jobs (type, status, created_at, id) include (queue, owner);
create index if not exists jobs_admin_queue_created on "jobtrack".jobs (queue, status, created_at, id) include (type, owner);

commit;
