-- jobtrack migration jobtrack_0010_position_departures (up) for the schema "jobtrack".
-- Generated from @jobtrack/adapter-kysely's migrations; run the files in name order.
begin;
create schema if not exists "jobtrack";

create sequence "jobtrack".claimable_left;

create function "jobtrack".count_claimable_left() returns trigger language plpgsql as $fn$
begin
  perform nextval('"jobtrack".claimable_left');
  return null;
end
$fn$;

create function "jobtrack".count_jobs_truncated() returns trigger language plpgsql as $fn$
begin
  perform setval('"jobtrack".claimable_left', nextval('"jobtrack".claimable_left') + 1000000000);
  return null;
end
$fn$;

create trigger jobs_claimable_left after update on "jobtrack".jobs for each row
  when (old.status in ('pending', 'retrying') and (
    new.status not in ('pending', 'retrying') or new.queue is distinct from old.queue
    or new.priority is distinct from old.priority or new.run_at is distinct from old.run_at
    or new.group_key is distinct from old.group_key or new.group_limit is distinct from old.group_limit))
  execute function "jobtrack".count_claimable_left();

create trigger jobs_claimable_deleted after delete on "jobtrack".jobs for each row
  when (old.status in ('pending', 'retrying'))
  execute function "jobtrack".count_claimable_left();

create trigger jobs_truncated after truncate on "jobtrack".jobs for each statement
  execute function "jobtrack".count_jobs_truncated();

create table if not exists "jobtrack".applied_migrations (
  name        text primary key,
  applied_at  timestamptz not null default now()
);
insert into "jobtrack".applied_migrations (name) values ('jobtrack_0010_position_departures') on conflict (name) do nothing;

commit;
