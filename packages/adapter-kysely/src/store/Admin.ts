/**
 * The admin verbs of the store on PostgreSQL (core's `AdminStore`, rules
 * 16–20), over the tables and indexes of migrations 0007, 0012, 0016, 0021 and 0025.
 * Every read is bounded: keyset pages (`AdminList.ts`); counts capped
 * per status (`limit cap + 1` under the count, never a `count(*)` over the
 * table) read from the index alone; the oldest waiting job by a loose index
 * scan of `jobs_claim`; charts from the summary of finished minutes
 * (`AdminSeries.ts`, passed in: built beside the summarizer). Actions by filter pick a chunk of ids in id order, then
 * change them in one conditional statement (`AdminBulk.ts`: cancels record their hook
 * deliveries in the same statement, rule 12; runNow announces the jobs it
 * made claimable at once, rule 11).
 *
 * @since 0.3.0
 */
import { Clock, Effect } from "effect"
import { AdminStore, Job, JobId } from "@jobtrack/core"
import type { JobStatus, StoreError } from "@jobtrack/core"
import { sql } from "../kyselyModule.js"
import type { RawBuilder } from "kysely"
import { bulkChunk } from "./AdminBulk.js"
import { clampLimit, condition, pairs, rangeOf } from "./AdminFilter.js"
import { list } from "./AdminList.js"
import type { StoreContext } from "./Context.js"

const iso = (ms: number) => new Date(ms).toISOString()
/** More (queue, type) pairs than this: each pair's range read to the cap, then merged. */
const maxPairs = 64

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
 * The store's admin verbs.
 *
 * @since 0.3.0
 * @category constructors
 */
export const admin = (
  ctx: StoreContext,
  series: AdminStore.AdminStoreShape["series"]
): AdminStore.AdminStoreShape => {
  const { jobs, run, schema } = ctx
  const audit = sql.id(schema, "audit")
  const now = Clock.currentTimeMillis

  return {
    adminList: list(ctx),

    adminCounts: ({ cap, filter }) =>
      Effect.gen(function*() {
        const limit = clampLimit(cap ?? 10_000, 1_000_000)
        const cond = condition(filter)
        type Row = { queue: string; type: string; status: JobStatus; n: string | number }
        // pending, running and completed (every status with a queue or a type): the (queue,
        // type) pairs first (a loose scan of jobs_admin_queue_type_created, migration 0021),
        // each status then counted as a merge of the pairs' ranges, which reads the newest
        // cap + 1 and stops
        const byPairs = Job.statuses.some((st) => rangeOf(st, filter) === "pairs")
        const found = byPairs
          ? yield* run("adminCounts", sql<{ queue: string; type: string }>`${pairs(jobs, filter)} select queue, type from pairs`)
          : []
        const newest = sql`order by created_at desc, id desc limit ${limit + 1}`
        // per status: the newest cap + 1 matching jobs counted, read from the indexes alone
        // (their include columns); the statuses are counted side by side (separate statements:
        // separate backends)
        const per = (status: JobStatus): Effect.Effect<ReadonlyArray<Row>, StoreError> => {
          const st = sql.lit(status)
          if (rangeOf(status, filter) !== "pairs") {
            // a status off the usual path, without queue or type: one range of jobs_admin_off_path
            return run("adminCounts", sql<Row>`
              select queue, type, ${st}::text as status, count(*) as n from (
                select queue, type from ${jobs} where status = ${st} and ${cond} ${newest}
              ) x group by queue, type`)
          }
          if (found.length === 0) return Effect.succeed([])
          const range = (queue: RawBuilder<unknown>, type: RawBuilder<unknown>) =>
            sql`select queue, type, created_at, id from ${jobs}
              where queue collate "C" = ${queue} and type collate "C" = ${type} and status = ${st} and ${cond} ${newest}`
          // few pairs: the planner merges the ranges and stops at cap + 1; many: each range read
          // to cap + 1, then the newest cap + 1 of them
          const merged = found.length <= maxPairs
            ? sql.join(found.map((p) => sql`(${range(sql`${p.queue}`, sql`${p.type}`)})`), sql` union all `)
            : sql`select r.* from unnest(${found.map((p) => p.queue)}::text[], ${found.map((p) => p.type)}::text[])
                as v(queue, type) cross join lateral (${range(sql`v.queue`, sql`v.type`)}) r`
          return run("adminCounts", sql<Row>`
            select queue, type, ${st}::text as status, count(*) as n from (
              select queue, type from (${merged}) k ${newest}
            ) x group by queue, type`)
        }
        const rows = (yield* Effect.forEach(Job.statuses, per, { concurrency: 3 })).flat()
        const totals = new Map<string, number>()
        for (const r of rows) totals.set(r.status, (totals.get(r.status) ?? 0) + Number(r.n))
        const order: ReadonlyArray<string> = Job.statuses
        return {
          cap: limit,
          rows: rows
            .map((r) => ({
              queue: r.queue,
              type: r.type,
              status: r.status,
              count: Number(r.n),
              capped: (totals.get(r.status) ?? 0) > limit
            }))
            .sort((a, b) =>
              (a.queue < b.queue ? -1 : a.queue > b.queue ? 1 : 0) || (a.type < b.type ? -1 : a.type > b.type ? 1 : 0) ||
              order.indexOf(a.status) - order.indexOf(b.status)
            )
        }
      }),

    oldestWaiting: (filter) =>
      Effect.flatMap(now, (t) => {
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
      }),

    series,

    bulkChunk: bulkChunk(ctx),

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
