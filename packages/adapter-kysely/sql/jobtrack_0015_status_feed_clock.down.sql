-- jobtrack migration jobtrack_0015_status_feed_clock (down) for the schema "jobtrack".
-- Generated from @jobtrack/adapter-kysely's migrations; run the files in name order.
begin;
create schema if not exists "jobtrack";

create table if not exists "jobtrack".applied_migrations (
  name        text primary key,
  applied_at  timestamptz not null default now()
);
delete from "jobtrack".applied_migrations where name = 'jobtrack_0015_status_feed_clock';

create or replace function "jobtrack".notify_row() returns trigger language plpgsql as $fn$
declare
  kind text;
  r "jobtrack".jobs;
  audience integer;
begin
  if tg_op = 'DELETE' then
    kind := 'deleted'; r := old;
  elsif old.status is distinct from new.status and new.status = 'pending' then
    kind := 'enqueued'; r := new;
  elsif new.cancel_requested and not old.cancel_requested then
    kind := 'cancelRequested'; r := new;
  else
    if old.status is distinct from new.status then
      kind := 'status';
    elsif old.progress is distinct from new.progress or old.progress_message is distinct from new.progress_message then
      kind := 'progress';
    else
      return null;
    end if;
    r := new;
    select max(case when w.job_id = r.id then 2 else 1 end) into audience from "jobtrack".watches w
      where w.job_id in (r.id, '00000000-0000-0000-0000-000000000000'::uuid) and w.expires_at > now();
    if audience is null or (audience = 1 and kind = 'progress') then
      return null;
    end if;
    if audience = 1 then
      perform pg_notify('jobtrack:jobtrack', json_build_object(
        't', r.type, 'q', r.queue, 'k', 'queue', 's', r.status)::text);
      return null;
    end if;
  end if;
  perform pg_notify('jobtrack:jobtrack', json_build_object(
    'i', r.id, 't', r.type, 'q', r.queue, 'k', kind, 's', r.status)::text);
  return null;
end $fn$;
drop function "jobtrack".feed_stamp(text, text, text);
drop table "jobtrack".feed_clock;

commit;
