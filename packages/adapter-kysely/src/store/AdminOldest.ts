/**
 * The oldest waiting job of each queue on PostgreSQL
 * (`AdminStore.oldestWaiting`, rule 17), by a loose index scan of
 * `jobs_claim` instead of a sort of every claimable job.
 *
 * @since 0.2.0
 */
import { Effect } from "effect"
import type { AdminStore } from "@jobtrack/core"
import { sql } from "../kyselyModule.js"
import { condition } from "./AdminFilter.js"
import { iso, now } from "./Context.js"
import type { StoreContext } from "./Context.js"

/**
 * @since 0.2.0
 * @category admin
 */
export const oldestWaiting = (ctx: StoreContext): AdminStore.AdminStoreShape["oldestWaiting"] => (filter) =>
  Effect.flatMap(now, (t) => {
    const { jobs, run } = ctx
    const claimable = sql`status in ('pending', 'retrying')`
    const queue = filter.queue !== undefined ? sql`and queue = ${filter.queue}` : sql``
    // a type: its claimable jobs of the queue may also be read from the index on (queue, type,
    // status, …) of migration 0021, keyed in the collation "C" (a rare type's are few, where
    // the claim index would be walked to the end of the queue's range)
    const byType = filter.type !== undefined
      ? sql`and queue collate "C" = qp.queue and type collate "C" = ${filter.type}`
      : sql``
    // a loose index scan of jobs_claim (queue, priority desc, run_at, id): each (queue,
    // priority) present, then the first claimable job of each, instead of sorting them all
    return Effect.map(
      run("oldestWaiting", sql<{ queue: string; run_at: Date | string; id: string }>`
        with recursive qp as (
          (select queue, priority from ${jobs} where ${claimable} ${queue} order by queue, priority desc limit 1)
          union all
          select n.queue, n.priority from qp cross join lateral (
            (select queue, priority from ${jobs} where ${claimable} and queue = qp.queue and priority < qp.priority
              order by queue, priority desc limit 1)
            union all
            (select queue, priority from ${jobs} where ${claimable} and queue > qp.queue ${queue}
              order by queue, priority desc limit 1)
            limit 1
          ) n
        )
        select distinct on (qp.queue) qp.queue, o.run_at, o.id from qp cross join lateral (
          select run_at, id from ${jobs}
          where ${claimable} and queue = qp.queue and priority = qp.priority
            and run_at <= ${iso(t)}::timestamptz and ${condition(filter)} ${byType}
          order by run_at, id limit 1
        ) o
        order by qp.queue, o.run_at, o.id`),
      (rows) => rows.map((r) => ({ queue: r.queue, since: new Date(r.run_at), id: r.id }))
    )
  })
