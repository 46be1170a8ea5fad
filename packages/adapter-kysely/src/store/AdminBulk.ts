/**
 * The console's actions by filter on PostgreSQL (`AdminStore.bulkChunk`,
 * rule 19): a chunk of ids picked in id order, then changed in one
 * conditional statement per action. Retry takes one job per live key at
 * most (rule 2); cancel records the hook deliveries of the jobs it ends in
 * the same statement (rule 12); runNow changes and announces only the jobs
 * it made claimable (rule 11): a job already due keeps its place and is
 * skipped; setPriority is not announced.
 *
 * @since 0.2.0
 */
import { Effect } from "effect"
import { AdminStore, JobId } from "@jobtrack/core"
import { sql } from "../kyselyModule.js"
import type { RawBuilder } from "kysely"
import type { JobRow } from "../Rows.js"
import { clampLimit, condition } from "./AdminFilter.js"
import { iso, now, recording } from "./Context.js"
import type { StoreContext } from "./Context.js"

/** The schema's channel (rule 11, store/Changes.ts). */
const channel = (schema: string) => `jobtrack:${schema}`

/** The statement that applies `action` to the picked `ids` at time `t`, returning the ids it changed. */
const change = (
  ctx: StoreContext,
  action: AdminStore.AdminAction,
  ids: ReadonlyArray<string>,
  t: string
): RawBuilder<{ id: string }> => {
  const { jobs, schema } = ctx
  const picked = sql`id = any(${ids}::uuid[])`
  switch (action._tag) {
    case "retry":
      // one job per live key at most: a second would break rule 2 (the others stay, skipped)
      return sql<{ id: string }>`
        with chosen as (
          select distinct on (j.type, j.owner, coalesce(j.key, j.id::text)) j.id from ${jobs} j
          where j.id = any(${ids}::uuid[]) and j.status in ('failed', 'cancelled')
            and (j.key is null or not exists (
              select 1 from ${jobs} o where o.type = j.type and o.key = j.key
                and o.owner is not distinct from j.owner and o.status in ('pending', 'processing', 'retrying')))
          order by j.type, j.owner, coalesce(j.key, j.id::text), j.id
        )
        update ${jobs} set status = 'pending', attempts = 0, progress = 0, progress_message = null,
          result = null, run_at = ${t}::timestamptz, next_retry_at = null, started_at = null,
          completed_at = null, cancel_requested = false, updated_at = ${t}::timestamptz
        where id in (select id from chosen) and status in ('failed', 'cancelled')
        returning id`
    case "cancel":
      // a transition that may end jobs records their hook deliveries (rule 12)
      return recording(ctx, sql<JobRow>`
        update ${jobs} set
          status = case when status = 'processing' then status else 'cancelled' end,
          cancel_requested = status = 'processing',
          completed_at = case when status = 'processing' then completed_at else ${t}::timestamptz end,
          next_retry_at = case when status = 'processing' then next_retry_at else null end,
          updated_at = ${t}::timestamptz
        where ${picked} and status in ('pending', 'retrying', 'processing')
        returning *`) as RawBuilder<unknown> as RawBuilder<{ id: string }>
    case "delete":
      return sql<{ id: string }>`delete from ${jobs} where ${picked} and status <> 'processing' returning id`
    case "runNow":
      // claimable at once: announced as `enqueued` (rule 11) by this statement, per job it
      // changed, in the payload the triggers send (migration 0022), at its commit; no trigger
      // does it (0022 announces a change back to pending, 0039 one to retrying), and a trigger
      // for it would evaluate its WHEN condition on every update of every row (each claim,
      // completion, heartbeat) for an action operators take by hand. Only jobs not due yet:
      // a due job is claimable already, keeps its place in the claim order (runAt) and is
      // neither written nor announced (skipped), so a runNow over a backlog of due jobs
      // sends no notification per job to every listening process
      return sql<{ id: string }>`
        with changed as (
          update ${jobs} set run_at = ${t}::timestamptz,
            next_retry_at = case when status = 'retrying' then ${t}::timestamptz else next_retry_at end,
            updated_at = ${t}::timestamptz
          where ${picked} and status in ('pending', 'retrying') and run_at > ${t}::timestamptz
          returning id, type, queue, status
        )
        select id, pg_notify(${channel(schema)}, json_build_object('i', id, 't', type, 'q', queue, 'k', 'enqueued',
          's', status)::text) as announced
        from changed`
    case "setPriority":
      // a priority changes the order of claimable jobs, not which are claimable: not announced
      return sql<{ id: string }>`
        update ${jobs} set priority = ${action.priority}, updated_at = ${t}::timestamptz
        where ${picked} and status in ('pending', 'retrying') returning id`
  }
}

/**
 * @since 0.2.0
 * @category admin
 */
export const bulkChunk = (ctx: StoreContext): AdminStore.AdminStoreShape["bulkChunk"] => ({ action, after, filter, limit }) =>
  Effect.gen(function*() {
    const n = clampLimit(limit, 5_000)
    if (after !== null && !JobId.isValid(after)) return { applied: 0, skipped: 0, last: null }
    const w = [condition(filter), sql`status = any(${[...AdminStore.appliesTo(action)]}::text[])`]
    if (after !== null) w.push(sql`id > ${after}::uuid`)
    const picked = yield* ctx.run("bulkChunk", sql<{ id: string }>`
      select id from ${ctx.jobs} where ${sql.join(w, sql` and `)} order by id limit ${n}`)
    if (picked.length === 0) return { applied: 0, skipped: 0, last: null }
    const ids = picked.map((r) => r.id)
    const changed = yield* ctx.run("bulkChunk", change(ctx, action, ids, iso(yield* now)))
    return {
      applied: changed.length,
      skipped: ids.length - changed.length,
      last: ids.length < n ? null : ids[ids.length - 1]!
    }
  })
