-- jobtrack migration jobtrack_0032_watch_horizon (down) for the schema "jobtrack".
-- Generated from @jobtrack/adapter-kysely's migrations; run the files in name order.
begin;
create schema if not exists "jobtrack";

create table if not exists "jobtrack".applied_migrations (
  name        text primary key,
  applied_at  timestamptz not null default now()
);
delete from "jobtrack".applied_migrations where name = 'jobtrack_0032_watch_horizon';

drop trigger jobs_notify_watched on "jobtrack".jobs;
create trigger jobs_notify_watched after update on "jobtrack".jobs
  referencing old table as o new table as n for each statement execute function "jobtrack".notify_watched();
drop trigger watches_raise_horizon on "jobtrack".watches;
drop function "jobtrack".raise_watch_horizon();
drop sequence "jobtrack".watch_horizon;

commit;
