-- jobtrack migration jobtrack_0018_console_type_queue_ranges (down) for the schema "jobtrack".
-- Generated from @jobtrack/adapter-kysely's migrations; run the files in name order.
begin;
create schema if not exists "jobtrack";

create table if not exists "jobtrack".applied_migrations (
  name        text primary key,
  applied_at  timestamptz not null default now()
);
delete from "jobtrack".applied_migrations where name = 'jobtrack_0018_console_type_queue_ranges';

drop index if exists "jobtrack".jobs_admin_type_created;

drop index if exists "jobtrack".jobs_admin_queue_created;

commit;
