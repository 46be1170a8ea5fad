-- jobtrack migration jobtrack_0007_console (down) for the schema "jobtrack".
-- Generated from @jobtrack/adapter-kysely's migrations; run the files in name order.
begin;
create schema if not exists "jobtrack";

create table if not exists "jobtrack".applied_migrations (
  name        text primary key,
  applied_at  timestamptz not null default now()
);
delete from "jobtrack".applied_migrations where name = 'jobtrack_0007_console';

drop index if exists "jobtrack".jobs_admin_finished;
drop index if exists "jobtrack".jobs_admin_status_created;
drop index if exists "jobtrack".jobs_admin_created;
drop table if exists "jobtrack".audit;

commit;
