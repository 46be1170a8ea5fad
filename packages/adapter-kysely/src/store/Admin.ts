/**
 * The admin verbs of the store on PostgreSQL (core's `AdminStore`, rules
 * 16–20), over the tables and indexes of migrations 0007, 0012, 0016, 0021 and 0025.
 * Every read is bounded: keyset pages (`AdminList.ts`); counts capped
 * per status (`limit cap + 1` under the count, never a `count(*)` over the
 * table) read from the index alone (`AdminCounts.ts`); the oldest waiting job by a loose index
 * scan of `jobs_claim` (`AdminOldest.ts`); charts from the summary of finished minutes
 * (`AdminSeries.ts`, passed in: built beside the summarizer). Actions by filter pick a chunk of ids in id order, then
 * change them in one conditional statement (`AdminBulk.ts`: cancels record their hook
 * deliveries in the same statement, rule 12; runNow announces the jobs it
 * made claimable at once, rule 11). The audit trail is `AdminAudit.ts`.
 *
 * @since 0.2.0
 */
import type { AdminStore } from "@jobtrack/core"
import { auditTrail } from "./AdminAudit.js"
import { bulkChunk } from "./AdminBulk.js"
import { counts } from "./AdminCounts.js"
import { list } from "./AdminList.js"
import { oldestWaiting } from "./AdminOldest.js"
import type { StoreContext } from "./Context.js"

/**
 * The store's admin verbs.
 *
 * @since 0.2.0
 * @category constructors
 */
export const admin = (
  ctx: StoreContext,
  series: AdminStore.AdminStoreShape["series"]
): AdminStore.AdminStoreShape => ({
  adminList: list(ctx),
  adminCounts: counts(ctx),
  oldestWaiting: oldestWaiting(ctx),
  series,
  bulkChunk: bulkChunk(ctx),
  ...auditTrail(ctx)
})
