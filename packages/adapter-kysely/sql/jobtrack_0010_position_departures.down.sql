-- jobtrack migration jobtrack_0010_position_departures (down) for the schema "jobtrack".
-- Generated from @jobtrack/adapter-kysely's migrations; run the files in name order.
begin;
create schema if not exists "jobtrack";

create table if not exists "jobtrack".applied_migrations (
  name        text primary key,
  applied_at  timestamptz not null default now()
);
delete from "jobtrack".applied_migrations where name = 'jobtrack_0010_position_departures';

drop trigger if exists jobs_truncated on "jobtrack".jobs;
drop trigger if exists jobs_claimable_deleted on "jobtrack".jobs;
drop trigger if exists jobs_claimable_left on "jobtrack".jobs;
drop function if exists "jobtrack".count_jobs_truncated();
drop function if exists "jobtrack".count_claimable_left();
drop sequence if exists "jobtrack".claimable_left;

commit;
