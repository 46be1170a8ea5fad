/**
 * The console's counts on PostgreSQL (`AdminStore.adminCounts`, rule 17):
 * jobs per (queue, type, status), capped per status (`limit cap + 1` under
 * the count, never a `count(*)` over the table) and read from the indexes
 * alone (migrations 0021 and 0025, `AdminFilter.rangeOf`).
 *
 * @since 0.2.0
 */
import { Effect } from "effect"
import { Job } from "@jobtrack/core"
import type { AdminStore, JobStatus, StoreError } from "@jobtrack/core"
import { sql } from "../kyselyModule.js"
import type { RawBuilder } from "kysely"
import { clampLimit, condition, pairs, rangeOf } from "./AdminFilter.js"
import type { StoreContext } from "./Context.js"

/** More (queue, type) pairs than this: each pair's range read to the cap, then merged. */
const maxPairs = 64

/**
 * @since 0.2.0
 * @category admin
 */
export const counts = (ctx: StoreContext): AdminStore.AdminStoreShape["adminCounts"] => ({ cap, filter }) =>
  Effect.gen(function*() {
    const { jobs, run } = ctx
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
  })
