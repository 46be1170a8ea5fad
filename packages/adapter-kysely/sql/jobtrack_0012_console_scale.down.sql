-- jobtrack migration jobtrack_0012_console_scale (down) for the schema "jobtrack".
-- Generated from @jobtrack/adapter-kysely's migrations; run the files in name order.
begin;
create schema if not exists "jobtrack";

create table if not exists "jobtrack".applied_migrations (
  name        text primary key,
  applied_at  timestamptz not null default now()
);
delete from "jobtrack".applied_migrations where name = 'jobtrack_0012_console_scale';

drop index if exists "jobtrack".jobs_admin_error_trgm;
drop index if exists "jobtrack".jobs_admin_status_created;
create index jobs_admin_status_created on "jobtrack".jobs (status, created_at, id);
drop table if exists "jobtrack".series_rolled;
drop table if exists "jobtrack".series_rollup;

commit;
