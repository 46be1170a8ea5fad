-- jobtrack migration jobtrack_0027_view_lighter_call (down) for the schema "jobtrack".
-- Generated from @jobtrack/adapter-kysely's migrations; run the files in name order.
begin;
create schema if not exists "jobtrack";

create table if not exists "jobtrack".applied_migrations (
  name        text primary key,
  applied_at  timestamptz not null default now()
);
delete from "jobtrack".applied_migrations where name = 'jobtrack_0027_view_lighter_call';

drop function if exists "jobtrack".job_view(uuid, timestamptz, jsonb);
drop function if exists "jobtrack".position_count(text, int, timestamptz, uuid, text, timestamptz);

commit;
