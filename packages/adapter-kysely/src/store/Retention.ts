/**
 * Retention: `prune` deletes finished jobs (and old hook deliveries, and the
 * watch registrations of dead processes) in batches, so that a first prune of
 * millions of rows holds no long transaction. The finished jobs are found
 * through `jobs_admin_finished (completed_at, id)` (migration 0009 dropped
 * the index that duplicated it).
 *
 * @since 0.2.0
 */
import { Effect } from "effect"
import type { JobStoreShape } from "@jobtrack/core"
import { sql } from "../kyselyModule.js"
import * as HookDeliveries from "../HookDeliveries.js"
import type { StoreContext } from "./Context.js"

const pruneBatch = 10_000

/**
 * @since 0.2.0
 * @category retention
 */
export const prune = (ctx: StoreContext): JobStoreShape["prune"] => (before) =>
  Effect.gen(function*() {
    const { jobs, run, schema } = ctx
    // with the finished jobs go the watch registrations of dead processes
    yield* run("prune", sql`delete from ${sql.id(schema, "watches")} where expires_at < now() - interval '1 hour'`)
    yield* HookDeliveries.prune(schema, run, before)
    // in batches, so that a first prune of millions of rows holds no long transaction
    let total = 0
    while (true) {
      const rows = yield* run("prune", sql<{ n: string | number }>`
        with gone as (
          delete from ${jobs} where id in (
            select id from ${jobs} where status in ('completed', 'failed', 'cancelled')
              and completed_at < ${before.toISOString()}::timestamptz
            limit ${pruneBatch}
          )
          returning 1
        ) select count(*) as n from gone`)
      const n = Number(rows[0]?.n ?? 0)
      total += n
      if (n < pruneBatch) return total
    }
  })
