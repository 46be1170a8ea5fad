-- jobtrack migration jobtrack_0016_console_one_index_less (up) for the schema "jobtrack".
-- Generated from @jobtrack/adapter-kysely's migrations; run the files in name order.
begin;
create schema if not exists "jobtrack";

drop index if exists "jobtrack".jobs_admin_created;

create table if not exists "jobtrack".applied_migrations (
  name        text primary key,
  applied_at  timestamptz not null default now()
);
insert into "jobtrack".applied_migrations (name) values ('jobtrack_0016_console_one_index_less') on conflict (name) do nothing;

commit;
