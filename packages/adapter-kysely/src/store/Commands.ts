/**
 * The operator's commands on a job by id: cancel, retry, delete. Each is one
 * conditional statement; a refused one answers `InvalidTransition` with the
 * job's current status.
 *
 * @since 0.2.0
 */
import { Effect } from "effect"
import type { JobStoreShape } from "@jobtrack/core"
import { sql } from "../kyselyModule.js"
import type { JobRow } from "../Rows.js"
import { iso, now, recording, transition } from "./Context.js"
import type { StoreContext } from "./Context.js"

/**
 * @since 0.2.0
 * @category writes
 */
export const commands = (ctx: StoreContext): Pick<JobStoreShape, "cancel" | "retry" | "delete"> => {
  const { jobs } = ctx
  return {
    cancel: (id) =>
      Effect.flatMap(now, (t) =>
        Effect.map(
          transition(ctx, id, "cancel", recording(ctx, sql<JobRow>`
            update ${jobs} set
              status = case when status = 'processing' then status else 'cancelled' end,
              cancel_requested = status = 'processing',
              completed_at = case when status = 'processing' then completed_at else ${iso(t)}::timestamptz end,
              next_retry_at = case when status = 'processing' then next_retry_at else null end,
              updated_at = ${iso(t)}::timestamptz
            where id = ${id}::uuid and status in ('pending', 'retrying', 'processing')
            returning *`)),
          (job) => job!
        )),
    retry: (id) =>
      Effect.flatMap(now, (t) =>
        Effect.map(
          transition(ctx, id, "retry", sql<JobRow>`
            update ${jobs} set status = 'pending', attempts = 0, progress = 0, progress_message = null,
              result = null, run_at = ${iso(t)}::timestamptz, next_retry_at = null, started_at = null,
              completed_at = null, cancel_requested = false, updated_at = ${iso(t)}::timestamptz
            where id = ${id}::uuid and status in ('failed', 'cancelled')
            returning *`),
          (job) => job!
        )),
    delete: (id) =>
      Effect.asVoid(transition(ctx, id, "delete", sql<JobRow>`
        delete from ${jobs} where id = ${id}::uuid and status <> 'processing' returning *`))
  }
}
