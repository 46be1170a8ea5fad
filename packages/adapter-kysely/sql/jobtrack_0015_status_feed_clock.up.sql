-- jobtrack migration jobtrack_0015_status_feed_clock (up) for the schema "jobtrack".
-- Generated from @jobtrack/adapter-kysely's migrations; run the files in name order.
begin;
create schema if not exists "jobtrack";

-- when some job of a queue and type last reached a status, while a feed is open
-- (stamped at most every 250 ms; read by the feed's holders once a second)
create table "jobtrack".feed_clock (
  queue       text not null,
  type        text not null,
  status      text not null,
  stamped_at  timestamptz not null,
  primary key (queue, type, status)
);

create function "jobtrack".feed_stamp(p_queue text, p_type text, p_status text) returns void
language plpgsql as $fn$
declare
  last timestamptz;
begin
  -- one stamper per row at a time, and no one waits: without the lock, skip
  if not pg_try_advisory_xact_lock(hashtext('jobtrack.feed:jobtrack'), hashtext(p_queue || '/' || p_type || '/' || p_status)) then
    return;
  end if;
  select c.stamped_at into last from "jobtrack".feed_clock c
    where c.queue = p_queue and c.type = p_type and c.status = p_status;
  if last is not null and last > clock_timestamp() - interval '250 milliseconds' then
    return;
  end if;
  if current_setting('transaction_isolation') = 'read committed' then
    insert into "jobtrack".feed_clock as c (queue, type, status, stamped_at)
      values (p_queue, p_type, p_status, clock_timestamp())
      on conflict (queue, type, status) do update set stamped_at = excluded.stamped_at;
  else
    begin
      insert into "jobtrack".feed_clock as c (queue, type, status, stamped_at)
        values (p_queue, p_type, p_status, clock_timestamp())
        on conflict (queue, type, status) do update set stamped_at = excluded.stamped_at;
    exception when serialization_failure then
      null; -- stamped by another transaction since this one's snapshot
    end;
  end if;
end $fn$;
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
      if current_setting('jobtrack.feed_stamped', true) is distinct from (r.queue || '/' || r.type || '/' || r.status) then
        perform set_config('jobtrack.feed_stamped', r.queue || '/' || r.type || '/' || r.status, true);
        perform "jobtrack".feed_stamp(r.queue, r.type, r.status);
      end if;
      return null;
    end if;
  end if;
  perform pg_notify('jobtrack:jobtrack', json_build_object(
    'i', r.id, 't', r.type, 'q', r.queue, 'k', kind, 's', r.status)::text);
  return null;
end $fn$;

create table if not exists "jobtrack".applied_migrations (
  name        text primary key,
  applied_at  timestamptz not null default now()
);
insert into "jobtrack".applied_migrations (name) values ('jobtrack_0015_status_feed_clock') on conflict (name) do nothing;

commit;
