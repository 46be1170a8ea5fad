-- jobtrack migration jobtrack_0034_watch_horizon_fails_open (down) for the schema "jobtrack".
-- Generated from @jobtrack/adapter-kysely's migrations; run the files in name order.
begin;
create schema if not exists "jobtrack";

create table if not exists "jobtrack".applied_migrations (
  name        text primary key,
  applied_at  timestamptz not null default now()
);
delete from "jobtrack".applied_migrations where name = 'jobtrack_0034_watch_horizon_fails_open';

drop trigger jobs_notify_watched on "jobtrack".jobs;
create trigger jobs_notify_watched after update on "jobtrack".jobs
  referencing old table as o new table as n for each statement
  when (pg_sequence_last_value('"jobtrack".watch_horizon') > floor(extract(epoch from now()) * 1000))
  execute function "jobtrack".notify_watched();

commit;
