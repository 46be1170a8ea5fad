-- jobtrack migration jobtrack_0042_view_reads_steps_of_claimed_jobs (down) for the schema "jobtrack".
-- Generated from @jobtrack/adapter-kysely's migrations; run the files in name order.
begin;
create schema if not exists "jobtrack";

create table if not exists "jobtrack".applied_migrations (
  name        text primary key,
  applied_at  timestamptz not null default now()
);
delete from "jobtrack".applied_migrations where name = 'jobtrack_0042_view_reads_steps_of_claimed_jobs';

drop function if exists "jobtrack".job_steps_of(uuid);

commit;
