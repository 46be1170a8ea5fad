-- jobtrack migration jobtrack_0014_claim_ordered_scan (up) for the schema "jobtrack".
-- Generated from @jobtrack/adapter-kysely's migrations; run the files in name order.
begin;
create schema if not exists "jobtrack";

alter function "jobtrack".claim(text[], text[], text, integer, integer, timestamptz) set enable_bitmapscan = off;

create table if not exists "jobtrack".applied_migrations (
  name        text primary key,
  applied_at  timestamptz not null default now()
);
insert into "jobtrack".applied_migrations (name) values ('jobtrack_0014_claim_ordered_scan') on conflict (name) do nothing;

commit;
