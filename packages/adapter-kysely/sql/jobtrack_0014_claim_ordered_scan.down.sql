-- jobtrack migration jobtrack_0014_claim_ordered_scan (down) for the schema "jobtrack".
-- Generated from @jobtrack/adapter-kysely's migrations; run the files in name order.
begin;
create schema if not exists "jobtrack";

create table if not exists "jobtrack".applied_migrations (
  name        text primary key,
  applied_at  timestamptz not null default now()
);
delete from "jobtrack".applied_migrations where name = 'jobtrack_0014_claim_ordered_scan';

alter function "jobtrack".claim(text[], text[], text, integer, integer, timestamptz) reset enable_bitmapscan;

commit;
