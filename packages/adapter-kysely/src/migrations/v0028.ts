/**
 * Migration 0028: the claim and the batched completion planned once per
 * connection, the completion's jobs found by primary key (issue 13, item 3).
 *
 * Measured on PostgreSQL 15 (docs/benchmarks.md, "Claim and completion CPU
 * (session 5)"), where the database's CPU per drained job went:
 *
 * - PL/pgSQL plans each statement of a function for its parameters ("custom
 *   plans") and keeps a generic plan only when it does not look costlier.
 *   The claim's statements (`limit v_left`, `id = any(v_ids)`) never looked
 *   cheaper generic, so every claim planned its update of a table with a
 *   dozen indexes and triggers again: about a sixth of the claim's CPU. Both
 *   functions now run with `plan_cache_mode = force_generic_plan`: planned
 *   once per connection. The generic plans are the ones the plan tests check
 *   with a large history and stale statistics (claimPlan, hotPathPlan).
 * - `complete_many` joined its items to `jobs` by hashing every running job,
 *   read through the status index (whose entries for finished jobs stay
 *   until a vacuum), so a completion cost grew with the running set and the
 *   churn since the last vacuum. It now reads its jobs by primary key
 *   (`id = any(ids)`), and returns the ids straight from its update; the
 *   wide rows and the hook deliveries' insert are only built when a hook
 *   subscribes to completions.
 *
 * A later migration that redefines `claim()` with `create or replace` drops
 * its `plan_cache_mode` (as it would 0014's `enable_bitmapscan`): it must keep
 * both in its definition.
 *
 * Nothing else changes: the same fencing (id, token, still processing), the
 * same hook deliveries in the same statement, a completion commits as the
 * caller's transaction does (synchronously by default), a claim with
 * `synchronous_commit = off`.
 *
 * Down restores migration 0019's `complete_many` and the claim's custom plans.
 *
 * @since 0.2.0
 */
import { sql } from "../kyselyModule.js"
import type { Kysely } from "kysely"

const claim = (s: string) => `"${s}".claim(text[], text[], text, integer, integer, timestamptz)`

/** The completion's update, for `moved`'s columns (`j.id` alone, or the whole row for hooks). */
const update = (s: string, returning: string) => `
          update "${s}".jobs j set status = 'completed', result = v.result, progress = 100,
            error_message = null, locked_by = null, locked_until = null, cancel_requested = false,
            completed_at = p_now, updated_at = p_now
          from jsonb_to_recordset(p_items) as v(id uuid, token integer, result jsonb)
          where j.id = any(v_ids) and j.id = v.id and j.token = v.token and j.status = v_processing
          returning ${returning}`

const completeManyFunction = (s: string) => `
      create or replace function "${s}".complete_many(p_items jsonb, p_now timestamptz)
      returns table (completed uuid) language plpgsql set plan_cache_mode = force_generic_plan as $fn$
      declare
        v_ids uuid[];
        -- A parameter of the generic plan, not a constant: the planner cannot prove the
        -- partial indexes of running jobs from it, so it finds the jobs by primary key (with
        -- 'processing' written out and statistics that saw no running job, it chose
        -- jobs_processing and filtered its entries by id)
        v_processing constant text := 'processing';
      begin
        -- the jobs by primary key: never a scan of the running jobs
        v_ids := array(select (e ->> 'id')::uuid from jsonb_array_elements(p_items) e);
        if not exists (select 1 from "${s}".hook_subscriptions h where h.event = 'completed') then
          return query${update(s, "j.id")};
          return;
        end if;
        return query
        with moved as (${update(s, "j.*")}
        ), recorded as (
          insert into "${s}".hook_deliveries (id, job_id, type, event, job, available_at, created_at)
          select gen_random_uuid(), m.id, m.type, m.status, to_jsonb(m), m.updated_at, m.updated_at
          from moved m
          where exists (select 1 from "${s}".hook_subscriptions h where h.type = m.type and h.event = m.status)
        )
        select m.id from moved m;
      end $fn$;`

/** Migration 0019's function. */
const previousCompleteMany = (s: string) => `
      create or replace function "${s}".complete_many(p_items jsonb, p_now timestamptz)
      returns table (completed uuid) language plpgsql as $fn$
      begin
        return query
        with moved as (
          update "${s}".jobs j set status = 'completed', result = v.result, progress = 100,
            error_message = null, locked_by = null, locked_until = null, cancel_requested = false,
            completed_at = p_now, updated_at = p_now
          from jsonb_to_recordset(p_items) as v(id uuid, token integer, result jsonb)
          where j.id = v.id and j.token = v.token and j.status = 'processing'
          returning j.*
        ), recorded as (
          insert into "${s}".hook_deliveries (id, job_id, type, event, job, available_at, created_at)
          select gen_random_uuid(), m.id, m.type, m.status, to_jsonb(m), m.updated_at, m.updated_at
          from moved m
          where exists (select 1 from "${s}".hook_subscriptions h where h.type = m.type and h.event = m.status)
        )
        select m.id from moved m;
      end $fn$;`

/** @internal */
export const v0028 = (s: string): {
  readonly up: (db: Kysely<unknown>) => Promise<void>
  readonly down: (db: Kysely<unknown>) => Promise<void>
} => ({
  up: async (db) => {
    await sql.raw(completeManyFunction(s)).execute(db)
    await sql.raw(`alter function ${claim(s)} set plan_cache_mode = force_generic_plan`).execute(db)
  },
  down: async (db) => {
    await sql.raw(`alter function ${claim(s)} reset plan_cache_mode`).execute(db)
    // create or replace drops the settings of the function it replaces
    await sql.raw(previousCompleteMany(s)).execute(db)
  }
})
