-- jobtrack migration jobtrack_0022_notify_when_needed (down) for the schema "jobtrack".
-- Generated from @jobtrack/adapter-kysely's migrations; run the files in name order.
begin;
create schema if not exists "jobtrack";

create table if not exists "jobtrack".applied_migrations (
  name        text primary key,
  applied_at  timestamptz not null default now()
);
delete from "jobtrack".applied_migrations where name = 'jobtrack_0022_notify_when_needed';

drop trigger if exists jobs_notify_always on "jobtrack".jobs;
drop trigger if exists jobs_notify_watched on "jobtrack".jobs;
drop trigger if exists jobs_notify_deleted on "jobtrack".jobs;
drop function if exists "jobtrack".notify_always();
drop function if exists "jobtrack".notify_watched();
create trigger jobs_notify_row after update or delete on "jobtrack".jobs
  for each row execute function "jobtrack".notify_row();

commit;
