-- jobtrack migration jobtrack_0005_telemetry (up) for the schema "jobtrack".
-- Generated from @jobtrack/adapter-kysely's migrations; run the files in name order.
begin;
create schema if not exists "jobtrack";

alter table "jobtrack".jobs add column traceparent text;

create table "jobtrack".job_logs (
  job_id   uuid not null references "jobtrack".jobs (id) on delete cascade,
  seq      bigint generated always as identity,
  attempt  integer not null,
  at       timestamptz not null,
  level    text not null check (level in ('debug', 'info', 'warning', 'error')),
  message  text not null,
  fields   jsonb,
  primary key (job_id, seq)
);

create table if not exists "jobtrack".applied_migrations (
  name        text primary key,
  applied_at  timestamptz not null default now()
);
insert into "jobtrack".applied_migrations (name) values ('jobtrack_0005_telemetry') on conflict (name) do nothing;

commit;
