-- jobtrack migration jobtrack_0039_retry_due_announced (up) for the schema "jobtrack".
-- Generated from @jobtrack/adapter-kysely's migrations; run the files in name order.
begin;
create schema if not exists "jobtrack";

create function "jobtrack".notify_due() returns trigger language plpgsql as $fn$
begin
  perform pg_notify('jobtrack:jobtrack', json_build_object('i', new.id, 't', new.type, 'q', new.queue,
    'k', 'enqueued', 's', new.status)::text);
  return null;
end $fn$;
create trigger jobs_notify_due after update on "jobtrack".jobs for each row
  when (old.status is distinct from new.status and new.status = 'retrying' and new.run_at <= new.updated_at)
  execute function "jobtrack".notify_due();

create table if not exists "jobtrack".applied_migrations (
  name        text primary key,
  applied_at  timestamptz not null default now()
);
insert into "jobtrack".applied_migrations (name) values ('jobtrack_0039_retry_due_announced') on conflict (name) do nothing;

commit;
