-- jobtrack migration jobtrack_0009_history (down) for the schema "jobtrack".
-- Generated from @jobtrack/adapter-kysely's migrations; run the files in name order.
begin;
create schema if not exists "jobtrack";

create table if not exists "jobtrack".applied_migrations (
  name        text primary key,
  applied_at  timestamptz not null default now()
);
delete from "jobtrack".applied_migrations where name = 'jobtrack_0009_history';

alter table "jobtrack".jobs reset (autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold, autovacuum_vacuum_insert_scale_factor, autovacuum_vacuum_insert_threshold);
create index if not exists jobs_completed_at on "jobtrack".jobs (completed_at)
  where status in ('completed', 'failed', 'cancelled');

commit;
