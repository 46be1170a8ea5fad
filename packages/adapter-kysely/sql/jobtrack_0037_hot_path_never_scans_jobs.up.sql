-- jobtrack migration jobtrack_0037_hot_path_never_scans_jobs (up) for the schema "jobtrack".
-- Generated from @jobtrack/adapter-kysely's migrations; run the files in name order.
begin;
create schema if not exists "jobtrack";

alter function "jobtrack".claim(text[], text[], text, integer, integer, timestamptz) set enable_seqscan = off;

alter function "jobtrack".complete_many(jsonb, timestamptz) set enable_seqscan = off;

create table if not exists "jobtrack".applied_migrations (
  name        text primary key,
  applied_at  timestamptz not null default now()
);
insert into "jobtrack".applied_migrations (name) values ('jobtrack_0037_hot_path_never_scans_jobs') on conflict (name) do nothing;

commit;
