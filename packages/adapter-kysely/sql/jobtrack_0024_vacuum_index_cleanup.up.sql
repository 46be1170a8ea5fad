-- jobtrack migration jobtrack_0024_vacuum_index_cleanup (up) for the schema "jobtrack".
-- Generated from @jobtrack/adapter-kysely's migrations; run the files in name order.
begin;
create schema if not exists "jobtrack";

alter table "jobtrack".jobs set (vacuum_index_cleanup = on);

create table if not exists "jobtrack".applied_migrations (
  name        text primary key,
  applied_at  timestamptz not null default now()
);
insert into "jobtrack".applied_migrations (name) values ('jobtrack_0024_vacuum_index_cleanup') on conflict (name) do nothing;

commit;
