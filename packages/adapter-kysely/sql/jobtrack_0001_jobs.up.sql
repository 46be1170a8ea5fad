-- jobtrack migration jobtrack_0001_jobs (up) for the schema "jobtrack".
-- Generated from @jobtrack/adapter-kysely's migrations; run the files in name order.
begin;
create schema if not exists "jobtrack";

create schema if not exists "jobtrack";

create table "jobtrack".jobs (
  id                uuid primary key,
  type              text not null,
  queue             text not null,
  payload           jsonb not null,
  result            jsonb,
  status            text not null check (status in
                      ('pending', 'processing', 'retrying', 'completed', 'failed', 'cancelled')),
  progress          double precision not null default 0,
  progress_message  text,
  error_message     text,
  errors            jsonb not null default '[]',
  attempts          integer not null default 0,
  max_attempts      integer not null check (max_attempts >= 1),
  priority          integer not null default 0,
  run_at            timestamptz not null,
  owner             text,
  key               text,
  group_key         text,
  group_limit       integer check (group_limit >= 1),
  locked_by         text,
  locked_until      timestamptz,
  token             integer not null default 0,
  cancel_requested  boolean not null default false,
  created_at        timestamptz not null,
  started_at        timestamptz,
  completed_at      timestamptz,
  next_retry_at     timestamptz,
  updated_at        timestamptz not null
);

-- rule 2: at most one live job per (type, key), enforced by the database
create unique index jobs_live_key on "jobtrack".jobs (type, key)
  where key is not null and status in ('pending', 'processing', 'retrying');
-- claim order, and queue position, over claimable jobs only
create index jobs_claim on "jobtrack".jobs (queue, priority desc, run_at, id)
  where status in ('pending', 'retrying');
-- running jobs: lease expiry and group counts
create index jobs_processing on "jobtrack".jobs (group_key, locked_until)
  where status = 'processing';
-- find by key (newest first), list by owner (newest first)
create index jobs_type_key on "jobtrack".jobs (type, key, id desc) where key is not null;
create index jobs_owner on "jobtrack".jobs (owner, id desc) where owner is not null;
-- prune
create index jobs_completed_at on "jobtrack".jobs (completed_at)
  where status in ('completed', 'failed', 'cancelled');

-- Who is watching which job (tracker.watch, the SSE route): progress and status
-- changes are announced only for watched jobs, because NOTIFY holds a global lock
-- through commit and would serialize every claim and completion.
create table "jobtrack".watches (
  job_id      uuid not null,
  watcher     text not null,
  expires_at  timestamptz not null,
  primary key (job_id, watcher)
);

-- rule 11: changes are announced on the channel 'jobtrack:<schema>' at commit
create function "jobtrack".notify_row() returns trigger language plpgsql as $fn$
declare
  kind text;
  r "jobtrack".jobs;
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
    if not exists (select 1 from "jobtrack".watches w where w.job_id = r.id and w.expires_at > now()) then
      return null;
    end if;
  end if;
  perform pg_notify('jobtrack:jobtrack', json_build_object(
    'i', r.id, 't', r.type, 'q', r.queue, 'k', kind, 's', r.status)::text);
  return null;
end $fn$;
create trigger jobs_notify_row after update or delete on "jobtrack".jobs
  for each row execute function "jobtrack".notify_row();

-- a batch insert is one notification per (queue, type), naming its first job
create function "jobtrack".notify_insert() returns trigger language plpgsql as $fn$
declare r record;
begin
  for r in select queue, type, min(id::text) as id from inserted group by queue, type loop
    perform pg_notify('jobtrack:jobtrack', json_build_object(
      'i', r.id, 't', r.type, 'q', r.queue, 'k', 'enqueued', 's', 'pending')::text);
  end loop;
  return null;
end $fn$;
create trigger jobs_notify_insert after insert on "jobtrack".jobs
  referencing new table as inserted for each statement execute function "jobtrack".notify_insert();

-- rules 3-5: claim in claim order, honouring group limits across every claimer.
-- Claimers are serialized by a transaction advisory lock, and each statement of
-- this function sees what the previous claimer committed. Per queue, candidates
-- come from an ordered scan of jobs_claim (groups already full filtered out);
-- only the chosen rows are locked (SKIP LOCKED: a row a host is cancelling is
-- skipped, not waited for).
create function "jobtrack".claim(
  p_queues text[], p_types text[], p_worker text, p_limit integer,
  p_lease_ms integer, p_now timestamptz
) returns setof "jobtrack".jobs language plpgsql as $fn$
declare
  v_queue text;
  v_left integer := p_limit;
  v_full text[];
  v_n integer;
begin
  perform pg_advisory_xact_lock(hashtext('jobtrack.claim'), hashtext('jobtrack'));
  -- the lock is held until commit: do not hold it through a WAL flush. A claim lost in
  -- a database crash only means the job is claimed again (the old holder's writes are
  -- refused by the fencing token), which at-least-once execution allows anyway.
  perform set_config('synchronous_commit', 'off', true);
  select coalesce(array_agg(f.group_key), '{}') into v_full from (
    select group_key from "jobtrack".jobs where status = 'processing' and group_key is not null
    group by group_key having count(*) >= max(group_limit)
  ) f;
  foreach v_queue in array p_queues loop
    exit when v_left <= 0;
    return query
    with candidates as (
      select j.id, j.group_key, j.group_limit, j.priority, j.run_at
      from "jobtrack".jobs j
      where j.status in ('pending', 'retrying') and j.queue = v_queue
        and j.type = any(p_types) and j.run_at <= p_now
        and (j.group_key is null or not (j.group_key = any(v_full)))
      order by j.priority desc, j.run_at, j.id
      limit v_left * 4 + 16
    ), running as (
      select g.group_key, count(*)::integer as n from "jobtrack".jobs g
      where g.status = 'processing' and g.group_key in (select c.group_key from candidates c)
      group by g.group_key
    ), chosen as (
      select c.id from (
        select c.*, row_number() over (partition by c.group_key order by c.priority desc, c.run_at, c.id) as rn
        from candidates c
      ) c left join running g on g.group_key = c.group_key
      where c.group_key is null or c.rn + coalesce(g.n, 0) <= c.group_limit
      order by c.priority desc, c.run_at, c.id
      limit v_left
    ), locked as (
      select j.id from "jobtrack".jobs j
      where j.id in (select id from chosen) and j.status in ('pending', 'retrying')
      for update skip locked
    ), claimed as (
      update "jobtrack".jobs j set
        status = 'processing', attempts = j.attempts + 1, token = j.token + 1,
        locked_by = p_worker, locked_until = p_now + p_lease_ms * interval '1 millisecond',
        started_at = p_now, next_retry_at = null, cancel_requested = false, updated_at = p_now
      from locked where j.id = locked.id
      returning j.*
    )
    select * from claimed order by priority desc, run_at, id;
    get diagnostics v_n = row_count;
    v_left := v_left - v_n;
  end loop;
end $fn$;

create table if not exists "jobtrack".applied_migrations (
  name        text primary key,
  applied_at  timestamptz not null default now()
);
insert into "jobtrack".applied_migrations (name) values ('jobtrack_0001_jobs') on conflict (name) do nothing;

commit;
