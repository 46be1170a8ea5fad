-- jobtrack migration jobtrack_0029_view_flat_position_index_only (down) for the schema "jobtrack".
-- Generated from @jobtrack/adapter-kysely's migrations; run the files in name order.
begin;
create schema if not exists "jobtrack";

create table if not exists "jobtrack".applied_migrations (
  name        text primary key,
  applied_at  timestamptz not null default now()
);
delete from "jobtrack".applied_migrations where name = 'jobtrack_0029_view_flat_position_index_only';

drop function if exists "jobtrack".job_view_flat(uuid, timestamptz, jsonb);
drop function if exists "jobtrack".position_ahead(text, int, timestamptz, uuid, text, timestamptz);
drop index if exists "jobtrack".jobs_claim_limited;

commit;
