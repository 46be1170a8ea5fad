-- jobtrack migration jobtrack_0003_hook_deliveries (down) for the schema "jobtrack".
-- Generated from @jobtrack/adapter-kysely's migrations; run the files in name order.
begin;
create schema if not exists "jobtrack";

create table if not exists "jobtrack".applied_migrations (
  name        text primary key,
  applied_at  timestamptz not null default now()
);
delete from "jobtrack".applied_migrations where name = 'jobtrack_0003_hook_deliveries';

drop table if exists "jobtrack".hook_deliveries;
drop function if exists "jobtrack".notify_hook();

commit;
