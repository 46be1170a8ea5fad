-- jobtrack migration jobtrack_0034_watch_horizon_fails_open (up) for the schema "jobtrack".
-- Generated from @jobtrack/adapter-kysely's migrations; run the files in name order.
begin;
create schema if not exists "jobtrack";

drop trigger jobs_notify_watched on "jobtrack".jobs;
create trigger jobs_notify_watched after update on "jobtrack".jobs
  referencing old table as o new table as n for each statement
  when (coalesce(pg_sequence_last_value('"jobtrack".watch_horizon'), 9223372036854775807) > floor(extract(epoch from now()) * 1000))
  execute function "jobtrack".notify_watched();

create table if not exists "jobtrack".applied_migrations (
  name        text primary key,
  applied_at  timestamptz not null default now()
);
insert into "jobtrack".applied_migrations (name) values ('jobtrack_0034_watch_horizon_fails_open') on conflict (name) do nothing;

commit;
