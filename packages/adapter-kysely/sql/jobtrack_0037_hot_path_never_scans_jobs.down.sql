-- jobtrack migration jobtrack_0037_hot_path_never_scans_jobs (down) for the schema "jobtrack".
-- Generated from @jobtrack/adapter-kysely's migrations; run the files in name order.
begin;
create schema if not exists "jobtrack";

create table if not exists "jobtrack".applied_migrations (
  name        text primary key,
  applied_at  timestamptz not null default now()
);
delete from "jobtrack".applied_migrations where name = 'jobtrack_0037_hot_path_never_scans_jobs';

alter function "jobtrack".claim(text[], text[], text, integer, integer, timestamptz) reset enable_seqscan;

alter function "jobtrack".complete_many(jsonb, timestamptz) reset enable_seqscan;

commit;
