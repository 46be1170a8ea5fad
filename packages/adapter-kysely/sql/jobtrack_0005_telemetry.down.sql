-- jobtrack migration jobtrack_0005_telemetry (down) for the schema "jobtrack".
-- Generated from @jobtrack/adapter-kysely's migrations; run the files in name order.
begin;
create schema if not exists "jobtrack";

create table if not exists "jobtrack".applied_migrations (
  name        text primary key,
  applied_at  timestamptz not null default now()
);
delete from "jobtrack".applied_migrations where name = 'jobtrack_0005_telemetry';

drop table if exists "jobtrack".job_logs;
alter table "jobtrack".jobs drop column if exists traceparent;

commit;
