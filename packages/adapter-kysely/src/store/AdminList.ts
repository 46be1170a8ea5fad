/**
 * The console's job list on PostgreSQL (`AdminStore.adminList`, rule 16):
 * keyset pages on `(sort column, id)`.
 *
 * By creation time the page is the newest (or oldest) keys of a few ranges,
 * each an ordered index scan of the filter stopped at the page size
 * (migration 0025, `AdminFilter.rangeOf`), then the page's rows by id:
 * - with a filter on type or queue, one range per (queue, type, status) of
 *   `jobs_admin_queue_type_created (queue, type, status, created_at, id)`
 *   (migration 0021), over that filter's pairs only (found by a loose scan,
 *   `AdminFilter.pairs`), so a value with few jobs or none stops at once;
 * - without one, the same for the pending, running and completed jobs over
 *   every pair, and one range of `jobs_admin_off_path (status, created_at,
 *   id)` per status off the usual path (retrying, failed, cancelled).
 * A filter on queue, type, owner or creation time is read from the indexes
 * alone (their include columns). No index on `(created_at, id)` or
 * `(status, created_at, id)` takes an entry at every transition of every
 * job (migrations 0016 and 0025). A filter on owner, ids or key is one
 * statement instead, served by those columns' indexes. By finish time the
 * page is a scan of `jobs_admin_finished`; by run time, of what the filter
 * leaves.
 *
 * @since 0.2.0
 */
import { Effect } from "effect"
import { Job, JobId } from "@jobtrack/core"
import type { AdminStore } from "@jobtrack/core"
import { sql } from "../kyselyModule.js"
import type { RawBuilder } from "kysely"
import { summaryColumns, toSummary } from "../Rows.js"
import type { SummaryRow } from "../Rows.js"
import { condition, pairs, rangeOf } from "./AdminFilter.js"
import type { StoreContext } from "./Context.js"

const clampLimit = (n: number) => Math.min(Math.max(Number.isFinite(n) ? Math.floor(n) : 1, 1), 500)

const column = { createdAt: "created_at", completedAt: "completed_at", runAt: "run_at" } as const

/**
 * A filter on owner, ids or key has an index of its own (`jobs_owner`, the
 * primary key, `jobs_type_key`) that finds its few rows at once: one
 * statement, sorted. Merged per status instead, a status with none of them
 * would be scanned to its end before the merge could start (measured: 40–55
 * ms for one owner's 1,000 jobs in 1,000,000, against 1–2 ms).
 */
const narrowed = (f: AdminStore.AdminFilter) =>
  (f.owner !== undefined && f.owner !== null) || f.ids !== undefined || f.key !== undefined

/**
 * The store's `adminList`.
 *
 * @since 0.2.0
 * @category constructors
 */
export const list = ({ jobs, run }: StoreContext): AdminStore.AdminStoreShape["adminList"] =>
({ cursor, filter, limit, order, sort }) =>
  Effect.gen(function*() {
    const n = clampLimit(limit)
    const col = sql.ref(column[sort])
    const dir = order === "asc" ? sql`asc` : sql`desc`
    // by creation time the status is each range's own (a second status condition would
    // count its selectivity twice in the planner's estimates)
    const byCreation = sort === "createdAt" && !narrowed(filter)
    const w = [condition(byCreation ? { ...filter, status: undefined } : filter)]
    if (sort === "completedAt") w.push(sql`completed_at is not null`)
    if (cursor !== undefined) {
      if (!JobId.isValid(cursor.id)) return { items: [], next: null }
      const at = sql`${cursor.at.toISOString()}::timestamptz`
      w.push(order === "asc" ? sql`(${col}, id) > (${at}, ${cursor.id}::uuid)` : sql`(${col}, id) < (${at}, ${cursor.id}::uuid)`)
    }
    const where = sql.join(w, sql` and `)
    const page = sql`order by ${col} ${dir}, id ${dir} limit ${n + 1}`
    // the summary's columns only: a page never reads payloads, results or errors
    let query: RawBuilder<SummaryRow>
    if (byCreation) {
      const statuses = Job.statuses.filter((s) => filter.status === undefined || filter.status.includes(s))
      if (statuses.length === 0) return { items: [], next: null }
      // each range ordered and limited itself: a branch with a WHERE is planned on its own,
      // and only a branch's own order by makes it an ordered index scan that stops at the
      // page. The ranges pick keys only, so a filter on queue, type, owner or creation time
      // is read from the index alone (its include columns), then the page's rows by id.
      const single = statuses.filter((s) => rangeOf(s, filter) !== "pairs")
      const byPairs = statuses.filter((s) => rangeOf(s, filter) === "pairs")
      // with neither queue nor type, each status off the usual path: one range of
      // jobs_admin_off_path, the status a literal so that the planner proves its predicate
      const ranges = single.map((s) =>
        sql`(select created_at, id from ${jobs} where status = ${sql.lit(s)} and ${where} ${page})`
      )
      // the others: one range per (queue, type, status) of jobs_admin_queue_type_created
      // (migration 0021; the pairs found by a loose scan, AdminFilter.pairs)
      if (byPairs.length > 0) {
        ranges.push(sql`(
          select r.created_at, r.id from pairs v cross join unnest(${byPairs}::text[]) as st(status)
            cross join lateral (
              select created_at, id from ${jobs}
              where queue collate "C" = v.queue and type collate "C" = v.type and status = st.status
                and ${where} ${page}
            ) r)`)
      }
      query = sql<SummaryRow>`
        ${byPairs.length > 0 ? pairs(jobs, filter) : sql``}
        select ${sql.raw(summaryColumns("j"))} from (select created_at, id from (${sql.join(ranges, sql` union all `)}) k ${page}) p
        join ${jobs} j on j.id = p.id
        order by p.created_at ${dir}, p.id ${dir}`
    } else {
      query = sql<SummaryRow>`select ${sql.raw(summaryColumns())} from ${jobs} where ${where} ${page}`
    }
    const rows = yield* run("adminList", query)
    const items = rows.slice(0, n).map(toSummary)
    const last = items[items.length - 1]
    const value = (j: typeof last) => sort === "completedAt" ? j!.completedAt! : j![sort]
    return { items, next: rows.length > n && last ? { at: value(last), id: last.id } : null }
  })
