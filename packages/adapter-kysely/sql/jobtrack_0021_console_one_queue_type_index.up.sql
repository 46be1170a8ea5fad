-- jobtrack migration jobtrack_0021_console_one_queue_type_index (up) for the schema "jobtrack".
-- Generated from @jobtrack/adapter-kysely's migrations; run the files in name order.
begin;
create schema if not exists "jobtrack";

drop index if exists "jobtrack".jobs_admin_type_created;
drop index if exists "jobtrack".jobs_admin_queue_created;
create index if not exists jobs_admin_queue_type_created on "jobtrack".jobs
  (queue collate "C", type collate "C", status, created_at, id) include (owner);

create table if not exists "jobtrack".applied_migrations (
  name        text primary key,
  applied_at  timestamptz not null default now()
);
insert into "jobtrack".applied_migrations (name) values ('jobtrack_0021_console_one_queue_type_index') on conflict (name) do nothing;

commit;
