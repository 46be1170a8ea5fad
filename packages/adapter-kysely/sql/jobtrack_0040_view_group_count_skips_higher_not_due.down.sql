-- jobtrack migration jobtrack_0040_view_group_count_skips_higher_not_due (down) for the schema "jobtrack".
-- Generated from @jobtrack/adapter-kysely's migrations; run the files in name order.
begin;
create schema if not exists "jobtrack";

create table if not exists "jobtrack".applied_migrations (
  name        text primary key,
  applied_at  timestamptz not null default now()
);
delete from "jobtrack".applied_migrations where name = 'jobtrack_0040_view_group_count_skips_higher_not_due';

drop function if exists "jobtrack".job_view_flat4(uuid, timestamptz, jsonb);
drop function if exists "jobtrack".position_count2(text, int, timestamptz, uuid, text, timestamptz);

commit;
