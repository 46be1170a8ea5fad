-- jobtrack migration jobtrack_0008_schedules (up) for the schema "jobtrack".
-- Generated from @jobtrack/adapter-kysely's migrations; run the files in name order.
begin;
create schema if not exists "jobtrack";

create table "jobtrack".schedules (
  name          text primary key,
  paused        boolean not null default false,
  -- the latest tick fired or passed over: later ticks are due
  last_tick_at  timestamptz not null,
  last_job_id   uuid,
  updated_at    timestamptz not null
);

create table if not exists "jobtrack".applied_migrations (
  name        text primary key,
  applied_at  timestamptz not null default now()
);
insert into "jobtrack".applied_migrations (name) values ('jobtrack_0008_schedules') on conflict (name) do nothing;

commit;
