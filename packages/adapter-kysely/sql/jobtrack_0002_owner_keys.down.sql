-- jobtrack migration jobtrack_0002_owner_keys (down) for the schema "jobtrack".
-- Generated from @jobtrack/adapter-kysely's migrations; run the files in name order.
begin;
create schema if not exists "jobtrack";

create table if not exists "jobtrack".applied_migrations (
  name        text primary key,
  applied_at  timestamptz not null default now()
);
delete from "jobtrack".applied_migrations where name = 'jobtrack_0002_owner_keys';

drop index "jobtrack".jobs_live_key;
create unique index jobs_live_key on "jobtrack".jobs (type, key)
  where key is not null and status in ('pending', 'processing', 'retrying');

commit;
