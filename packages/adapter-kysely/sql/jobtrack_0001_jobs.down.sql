-- jobtrack migration jobtrack_0001_jobs (down) for the schema "jobtrack".
-- Generated from @jobtrack/adapter-kysely's migrations; run the files in name order.
begin;
create schema if not exists "jobtrack";

create table if not exists "jobtrack".applied_migrations (
  name        text primary key,
  applied_at  timestamptz not null default now()
);
delete from "jobtrack".applied_migrations where name = 'jobtrack_0001_jobs';

drop function if exists "jobtrack".claim(text[], text[], text, integer, integer, timestamptz);
drop table if exists "jobtrack".jobs;
drop table if exists "jobtrack".watches;
drop function if exists "jobtrack".notify_row();
drop function if exists "jobtrack".notify_insert();

commit;
