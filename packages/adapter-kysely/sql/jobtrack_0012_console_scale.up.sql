-- jobtrack migration jobtrack_0012_console_scale (up) for the schema "jobtrack".
-- Generated from @jobtrack/adapter-kysely's migrations; run the files in name order.
begin;
create schema if not exists "jobtrack";

create table "jobtrack".series_rollup (
  width   integer not null,
  scope   smallint not null,
  at      timestamptz not null,
  queue   text not null,
  type    text not null,
  metric  smallint not null,
  bin     smallint not null,
  n       integer not null,
  primary key (width, scope, at, queue, type, metric, bin)
);
create table "jobtrack".series_rolled (
  one  boolean primary key default true check (one),
  lo   timestamptz not null,
  hi   timestamptz not null
);
drop index "jobtrack".jobs_admin_status_created;
create index jobs_admin_status_created on "jobtrack".jobs (status, created_at, id) include (queue, type, owner);
do $do$
begin
  create extension if not exists pg_trgm;
  execute format('create index jobs_admin_error_trgm on %I.jobs using gin (error_message %I.gin_trgm_ops) where error_message is not null',
    'jobtrack', (select n.nspname from pg_extension e join pg_namespace n on n.oid = e.extnamespace where e.extname = 'pg_trgm'));
exception when others then
  raise notice 'jobtrack: no trigram index on error text (%): the console''s error filter scans', sqlerrm;
end
$do$;

create table if not exists "jobtrack".applied_migrations (
  name        text primary key,
  applied_at  timestamptz not null default now()
);
insert into "jobtrack".applied_migrations (name) values ('jobtrack_0012_console_scale') on conflict (name) do nothing;

commit;
