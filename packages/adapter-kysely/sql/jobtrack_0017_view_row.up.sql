-- jobtrack migration jobtrack_0017_view_row (up) for the schema "jobtrack".
-- Generated from @jobtrack/adapter-kysely's migrations; run the files in name order.
begin;
create schema if not exists "jobtrack";

create function "jobtrack".view_row(p_id uuid)
  returns table (job "jobtrack".jobs, steps jsonb, run_at_us text, departed text)
  language plpgsql stable as $fn$
begin
  return query
    select j,
      (select coalesce(jsonb_agg(to_jsonb(s) - 'result' - 'job_id' order by s.idx), '[]'::jsonb)
        from "jobtrack".job_steps s where s.job_id = j.id),
      case when j.status = 'pending' then ((extract(epoch from j.run_at) * 1000000)::bigint)::text end,
      case when j.status = 'pending'
        then coalesce(pg_sequence_last_value('"jobtrack".claimable_left'::regclass), 0)::text end
    from "jobtrack".jobs j where j.id = p_id;
end
$fn$;

create table if not exists "jobtrack".applied_migrations (
  name        text primary key,
  applied_at  timestamptz not null default now()
);
insert into "jobtrack".applied_migrations (name) values ('jobtrack_0017_view_row') on conflict (name) do nothing;

commit;
