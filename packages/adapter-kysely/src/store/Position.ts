/**
 * A job's view: the row and, when pending, its queue position (rule 8).
 *
 * @since 0.2.0
 */
import { Effect } from "effect"
import { JobId, JobNotFound } from "@jobtrack/core"
import type { JobStoreShape, JobView, StoreError } from "@jobtrack/core"
import { sql } from "kysely"
import { toRecord } from "../Rows.js"
import type { JobRow } from "../Rows.js"
import { iso, now } from "./Context.js"
import type { StoreContext } from "./Context.js"
import * as Steps from "./Steps.js"

/**
 * The row and, when pending, its queue position (rule 8), in one query: 1 + the
 * claimable jobs of its queue ahead of it in claim order that will start before it.
 * Its own group's jobs ahead always do; another group's job counts only while that
 * group has room for it (running jobs of the group + the group's jobs ahead of it
 * < its limit), as in `claim`.
 *
 * @since 0.2.0
 * @category reads
 */
export const position = (ctx: StoreContext): Pick<JobStoreShape, "view" | "queuePosition"> => {
  const { jobs, run } = ctx
  const view = (id: string): Effect.Effect<JobView, JobNotFound | StoreError> =>
    Effect.gen(function*() {
      if (!JobId.isValid(id)) return yield* new JobNotFound({ id })
      const t = iso(yield* now)
      // The claimable jobs ahead of j in claim order, as two ranges of jobs_claim (queue,
      // priority desc, run_at, id): a higher priority, or the same priority and an earlier
      // (run_at, id). Each is an index range that ends at j, so the cost grows with j's
      // place, not with the queue's length (one OR-ed condition walked the whole queue).
      const claimable = sql`o.queue = j.queue and o.status in ('pending', 'retrying') and o.run_at <= ${t}::timestamptz`
      const ahead = sql`(
        select o.id, o.group_key, o.group_limit, o.priority, o.run_at from ${jobs} o
        where ${claimable} and o.priority > j.priority
        union all
        select o.id, o.group_key, o.group_limit, o.priority, o.run_at from ${jobs} o
        where ${claimable} and o.priority = j.priority and (o.run_at, o.id) < (j.run_at, j.id)
      ) o`
      const rows = yield* run("view", sql<JobRow & { ahead: number | string | null; grouped: number | string | null; steps: unknown }>`
        select j.*, ${Steps.viewColumn(ctx.schema)} as steps,
          case when j.status = 'pending' then (
            select count(*) from ${ahead} where o.group_key is null or o.group_key = j.group_key
          ) end as ahead,
          case when j.status = 'pending' then (
            select count(*) from (
              select o.group_key, o.group_limit,
                row_number() over (partition by o.group_key order by o.priority desc, o.run_at, o.id) - 1 as before
              from ${ahead} where o.group_key is not null and o.group_key is distinct from j.group_key
            ) g
            where g.group_limit is null or g.before + (
              select count(*) from ${jobs} r where r.status = 'processing' and r.group_key = g.group_key
            ) < g.group_limit
          ) end as grouped
        from ${jobs} j where j.id = ${id}::uuid`)
      if (rows.length === 0) return yield* new JobNotFound({ id })
      const row = rows[0]!
      return {
        ...toRecord(row),
        queuePosition: row.status === "pending" ? Number(row.ahead) + Number(row.grouped) + 1 : null,
        steps: Steps.fromViewColumn(row.steps)
      }
    })
  return { view, queuePosition: (id) => Effect.map(view(id), (v) => v.queuePosition) }
}
