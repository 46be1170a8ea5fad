-- jobtrack migration jobtrack_0032_watch_horizon (up) for the schema "jobtrack".
-- Generated from @jobtrack/adapter-kysely's migrations; run the files in name order.
begin;
create schema if not exists "jobtrack";

create sequence "jobtrack".watch_horizon minvalue 0 start 0;

create function "jobtrack".raise_watch_horizon() returns trigger language plpgsql as $fn$
declare
  v_until bigint := ceil(extract(epoch from new.expires_at) * 1000)::bigint;
begin
  if coalesce(pg_sequence_last_value('"jobtrack".watch_horizon'), 0) < v_until then
    -- one raiser at a time: a read and a setval of two registrations must not interleave
    perform pg_advisory_xact_lock(hashtext('jobtrack.watch_horizon'), hashtext('jobtrack'));
    if coalesce(pg_sequence_last_value('"jobtrack".watch_horizon'), 0) < v_until then
      perform setval('"jobtrack".watch_horizon', v_until, true);
    end if;
  end if;
  return null;
end $fn$;

-- created before the horizon is read from the table: from here a registration waits
-- for this transaction (CREATE TRIGGER locks out writes to watches), then raises it
create trigger watches_raise_horizon after insert or update of expires_at on "jobtrack".watches
  for each row execute function "jobtrack".raise_watch_horizon();
select setval('"jobtrack".watch_horizon', coalesce(max(ceil(extract(epoch from expires_at) * 1000)::bigint), 0), true)
  from "jobtrack".watches;

drop trigger jobs_notify_watched on "jobtrack".jobs;
create trigger jobs_notify_watched after update on "jobtrack".jobs
  referencing old table as o new table as n for each statement
  when (pg_sequence_last_value('"jobtrack".watch_horizon') > floor(extract(epoch from now()) * 1000))
  execute function "jobtrack".notify_watched();

create table if not exists "jobtrack".applied_migrations (
  name        text primary key,
  applied_at  timestamptz not null default now()
);
insert into "jobtrack".applied_migrations (name) values ('jobtrack_0032_watch_horizon') on conflict (name) do nothing;

commit;
