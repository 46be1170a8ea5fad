-- jobtrack migration jobtrack_0023_view_position_in_one_call (down) for the schema "jobtrack".
-- Generated from @jobtrack/adapter-kysely's migrations; run the files in name order.
begin;
create schema if not exists "jobtrack";

create table if not exists "jobtrack".applied_migrations (
  name        text primary key,
  applied_at  timestamptz not null default now()
);
delete from "jobtrack".applied_migrations where name = 'jobtrack_0023_view_position_in_one_call';

drop function if exists "jobtrack".view_row(uuid, timestamptz, jsonb);
drop function if exists "jobtrack".position_walk("jobtrack".jobs, timestamptz, int);

commit;
