-- jobtrack migration jobtrack_0041_view_statement_counts_only_when_needed (down) for the schema "jobtrack".
-- Generated from @jobtrack/adapter-kysely's migrations; run the files in name order.
begin;
create schema if not exists "jobtrack";

create table if not exists "jobtrack".applied_migrations (
  name        text primary key,
  applied_at  timestamptz not null default now()
);
delete from "jobtrack".applied_migrations where name = 'jobtrack_0041_view_statement_counts_only_when_needed';

drop function if exists "jobtrack".job_view5(uuid, timestamptz, jsonb);
drop function if exists "jobtrack".position_place(text, int, timestamptz, uuid, text, timestamptz);

commit;
