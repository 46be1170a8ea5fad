-- jobtrack migration jobtrack_0002_owner_keys (up) for the schema "jobtrack".
-- Generated from @jobtrack/adapter-kysely's migrations; run the files in name order.
begin;
create schema if not exists "jobtrack";

drop index "jobtrack".jobs_live_key;
create unique index jobs_live_key on "jobtrack".jobs (type, owner, key) nulls not distinct
  where key is not null and status in ('pending', 'processing', 'retrying');

create table if not exists "jobtrack".applied_migrations (
  name        text primary key,
  applied_at  timestamptz not null default now()
);
insert into "jobtrack".applied_migrations (name) values ('jobtrack_0002_owner_keys') on conflict (name) do nothing;

commit;
