-- jobtrack migration jobtrack_0042_view_reads_steps_of_claimed_jobs (up) for the schema "jobtrack".
-- Generated from @jobtrack/adapter-kysely's migrations; run the files in name order.
begin;
create schema if not exists "jobtrack";

-- a job's steps as its view shows them (job_view5's steps column)
create function "jobtrack".job_steps_of(p_id uuid) returns jsonb language plpgsql stable as $fn$
begin
  return (select coalesce(jsonb_agg(to_jsonb(st) - 'result' - 'job_id' order by st.idx), '[]'::jsonb)
    from "jobtrack".job_steps st where st.job_id = p_id);
end
$fn$;

create table if not exists "jobtrack".applied_migrations (
  name        text primary key,
  applied_at  timestamptz not null default now()
);
insert into "jobtrack".applied_migrations (name) values ('jobtrack_0042_view_reads_steps_of_claimed_jobs') on conflict (name) do nothing;

commit;
