-- jobtrack migration jobtrack_0039_retry_due_announced (down) for the schema "jobtrack".
-- Generated from @jobtrack/adapter-kysely's migrations; run the files in name order.
begin;
create schema if not exists "jobtrack";

create table if not exists "jobtrack".applied_migrations (
  name        text primary key,
  applied_at  timestamptz not null default now()
);
delete from "jobtrack".applied_migrations where name = 'jobtrack_0039_retry_due_announced';

drop trigger if exists jobs_notify_due on "jobtrack".jobs;
drop function if exists "jobtrack".notify_due();

commit;
