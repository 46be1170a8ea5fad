-- jobtrack migration jobtrack_0022_notify_when_needed (up) for the schema "jobtrack".
-- Generated from @jobtrack/adapter-kysely's migrations; run the files in name order.
begin;
create schema if not exists "jobtrack";

-- announced per job whoever watches, from a row trigger whose WHEN condition (checked
-- before any function runs) holds only for these rare updates
create function "jobtrack".notify_always() returns trigger language plpgsql as $fn$
begin
  perform pg_notify('jobtrack:jobtrack', json_build_object('i', new.id, 't', new.type, 'q', new.queue, 'k', case when old.status is distinct from new.status and new.status = 'pending'
    then 'enqueued' else 'cancelRequested' end, 's', new.status)::text);
  return null;
end $fn$;

-- status and progress changes: announced for watched jobs, stamped for a status feed;
-- once per statement, and only one indexed read when nobody watches anything
create function "jobtrack".notify_watched() returns trigger language plpgsql as $fn$
declare
  r record;
begin
  if not exists (select 1 from "jobtrack".watches w where w.expires_at > now()) then
    return null;
  end if;
  perform pg_notify('jobtrack:jobtrack', json_build_object('i', c.id, 't', c.type, 'q', c.queue, 'k', c.kind, 's', c.status)::text) from (
    select n.id, n.type, n.queue, n.status,
      case when o.status is distinct from n.status then 'status' else 'progress' end as kind
    from o join n on n.id = o.id
    where not ((o.status is distinct from n.status and n.status = 'pending')
    or (n.cancel_requested and not o.cancel_requested))
      and (o.status is distinct from n.status or o.progress is distinct from n.progress
        or o.progress_message is distinct from n.progress_message)
  ) c
  where exists (select 1 from "jobtrack".watches w where w.job_id = c.id and w.expires_at > now());
  if exists (select 1 from "jobtrack".watches w where w.job_id = '00000000-0000-0000-0000-000000000000'::uuid and w.expires_at > now()) then
    for r in
      select distinct n.queue, n.type, n.status from o join n on n.id = o.id
      where o.status is distinct from n.status and n.status <> 'pending'
        and not (n.cancel_requested and not o.cancel_requested)
        and not exists (select 1 from "jobtrack".watches w where w.job_id = n.id and w.expires_at > now())
    loop
      if current_setting('jobtrack.feed_stamped', true) is distinct from (r.queue || '/' || r.type || '/' || r.status) then
        perform set_config('jobtrack.feed_stamped', r.queue || '/' || r.type || '/' || r.status, true);
        perform "jobtrack".feed_stamp(r.queue, r.type, r.status);
      end if;
    end loop;
  end if;
  return null;
end $fn$;

drop trigger jobs_notify_row on "jobtrack".jobs;
create trigger jobs_notify_always after update on "jobtrack".jobs for each row
  when ((old.status is distinct from new.status and new.status = 'pending')
    or (new.cancel_requested and not old.cancel_requested)) execute function "jobtrack".notify_always();
create trigger jobs_notify_watched after update on "jobtrack".jobs
  referencing old table as o new table as n for each statement execute function "jobtrack".notify_watched();
create trigger jobs_notify_deleted after delete on "jobtrack".jobs for each row
  execute function "jobtrack".notify_row();

create table if not exists "jobtrack".applied_migrations (
  name        text primary key,
  applied_at  timestamptz not null default now()
);
insert into "jobtrack".applied_migrations (name) values ('jobtrack_0022_notify_when_needed') on conflict (name) do nothing;

commit;
