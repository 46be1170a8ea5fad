/**
 * The console's audit trail on PostgreSQL (`AdminStore.recordAudit` and
 * `listAudit`, rule 20): one row per operator action in the `audit` table
 * (migration 0007), read newest first in keyset pages on its time-ordered id.
 *
 * @since 0.2.0
 */
import { Effect } from "effect"
import { JobId } from "@jobtrack/core"
import type { AdminStore } from "@jobtrack/core"
import { sql } from "../kyselyModule.js"
import { clampLimit } from "./AdminFilter.js"
import { iso, now } from "./Context.js"
import type { StoreContext } from "./Context.js"

interface AuditRow {
  id: string
  at: Date | string
  actor: string
  action: string
  target: AdminStore.AuditEntry["target"]
  count: string | number | null
  job_id: string | null
}

const toAudit = (r: AuditRow): AdminStore.AuditEntry => ({
  id: r.id,
  at: r.at instanceof Date ? r.at : new Date(r.at),
  actor: r.actor,
  action: r.action,
  target: r.target,
  count: r.count === null ? null : Number(r.count),
  jobId: r.job_id
})

/**
 * @since 0.2.0
 * @category admin
 */
export const auditTrail = (ctx: StoreContext): Pick<AdminStore.AdminStoreShape, "recordAudit" | "listAudit"> => {
  const { run } = ctx
  const audit = sql.id(ctx.schema, "audit")
  return {
    recordAudit: (entry) =>
      Effect.flatMap(now, (t) =>
        Effect.map(
          run("recordAudit", sql<AuditRow>`
            insert into ${audit} (id, at, actor, action, target, count, job_id)
            values (${JobId.make(t)}::uuid, ${iso(t)}::timestamptz, ${entry.actor}, ${entry.action},
              ${JSON.stringify(entry.target)}::jsonb, ${entry.count}, ${entry.jobId}::uuid)
            returning *`),
          (rows) => toAudit(rows[0]!)
        )),
    listAudit: ({ before, limit }) =>
      Effect.gen(function*() {
        const n = clampLimit(limit, 500)
        if (before !== undefined && !JobId.isValid(before)) return { items: [], next: null }
        const rows = yield* run("listAudit", sql<AuditRow>`
          select * from ${audit} where ${before === undefined ? sql`true` : sql`id < ${before}::uuid`}
          order by id desc limit ${n + 1}`)
        const items = rows.slice(0, n).map(toAudit)
        return { items, next: rows.length > n ? items[items.length - 1]!.id : null }
      })
  }
}
