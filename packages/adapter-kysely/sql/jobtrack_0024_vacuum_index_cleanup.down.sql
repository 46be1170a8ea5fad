-- jobtrack migration jobtrack_0024_vacuum_index_cleanup (down) for the schema "jobtrack".
-- Generated from @jobtrack/adapter-kysely's migrations; run the files in name order.
begin;
create schema if not exists "jobtrack";

create table if not exists "jobtrack".applied_migrations (
  name        text primary key,
  applied_at  timestamptz not null default now()
);
delete from "jobtrack".applied_migrations where name = 'jobtrack_0024_vacuum_index_cleanup';

alter table "jobtrack".jobs reset (vacuum_index_cleanup);

commit;
