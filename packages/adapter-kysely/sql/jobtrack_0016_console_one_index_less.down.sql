-- jobtrack migration jobtrack_0016_console_one_index_less (down) for the schema "jobtrack".
-- Generated from @jobtrack/adapter-kysely's migrations; run the files in name order.
begin;
create schema if not exists "jobtrack";

create table if not exists "jobtrack".applied_migrations (
  name        text primary key,
  applied_at  timestamptz not null default now()
);
delete from "jobtrack".applied_migrations where name = 'jobtrack_0016_console_one_index_less';

create index if not exists jobs_admin_created on "jobtrack".jobs (created_at, id);

commit;
