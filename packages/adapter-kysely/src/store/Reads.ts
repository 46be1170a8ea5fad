/**
 * Reads: a job by id or by key, a page of jobs (newest first), and stats.
 *
 * @since 0.2.0
 */
import { Effect } from "effect"
import { JobId, JobNotFound } from "@jobtrack/core"
import type { JobStatus, JobStoreShape, Stats } from "@jobtrack/core"
import { sql } from "../kyselyModule.js"
import { summaryColumns, toSummary } from "../Rows.js"
import type { JobRow, SummaryRow } from "../Rows.js"
import { getRow, one } from "./Context.js"
import type { StoreContext } from "./Context.js"

/** The owner filter of list and stats: any owner, one owner, or none (`null`). */
const ownerIs = (owner: string | null | undefined) =>
  owner === undefined ? sql`true` : owner === null ? sql`owner is null` : sql`owner = ${owner}`

/**
 * @since 0.2.0
 * @category reads
 */
export const reads = (ctx: StoreContext): Pick<JobStoreShape, "get" | "findByKey" | "list" | "stats"> => {
  const { jobs, run } = ctx
  return {
    get: (id) => getRow(ctx, id),
    findByKey: (type, key) =>
      Effect.flatMap(
        run("findByKey", sql<JobRow>`select * from ${jobs} where type = ${type} and key = ${key} order by id desc limit 1`),
        (rows) => {
          const job = one(rows)
          return job ? Effect.succeed(job) : Effect.fail(new JobNotFound({ id: `${type}:${key}` }))
        }
      ),
    list: (filter) =>
      Effect.gen(function*() {
        const limit = Math.min(Math.max(filter.limit ?? 50, 1), 500)
        if (filter.cursor !== undefined && !JobId.isValid(filter.cursor)) return { items: [], nextCursor: null }
        const where = [ownerIs(filter.owner)]
        if (filter.status !== undefined) where.push(sql`status = any(${[...filter.status]}::text[])`)
        if (filter.type !== undefined) where.push(sql`type = ${filter.type}`)
        if (filter.key !== undefined) where.push(sql`key = ${filter.key}`)
        if (filter.queue !== undefined) where.push(sql`queue = ${filter.queue}`)
        if (filter.excludeQueue !== undefined) where.push(sql`queue <> ${filter.excludeQueue}`)
        if (filter.cursor !== undefined) where.push(sql`id < ${filter.cursor}::uuid`)
        // the summary's columns only: a page never reads payloads, results or errors
        const rows = yield* run("list", sql<SummaryRow>`
          select ${sql.raw(summaryColumns())} from ${jobs} where ${sql.join(where, sql` and `)}
          order by id desc limit ${limit + 1}`)
        const items = rows.slice(0, limit).map(toSummary)
        return { items, nextCursor: rows.length > limit ? items[items.length - 1]!.id : null }
      }),
    stats: (filter) =>
      Effect.gen(function*() {
        const where = [ownerIs(filter.owner)]
        if (filter.type !== undefined) where.push(sql`type = ${filter.type}`)
        if (filter.excludeQueue !== undefined) where.push(sql`queue <> ${filter.excludeQueue}`)
        const cond = sql.join(where, sql` and `)
        const rows = yield* run("stats", sql<StatsRow>`
          with d as (
            select type, status,
              case when status = 'completed' and started_at is not null and completed_at is not null
                then extract(epoch from (completed_at - started_at)) * 1000 end as ms
            from ${jobs} where ${cond}
          )
          select type, status, count(*) as n, avg(ms)::float8 as mean,
            percentile_disc(0.5) within group (order by ms)::float8 as p50,
            percentile_disc(0.95) within group (order by ms)::float8 as p95,
            count(ms) as durations
          from d group by grouping sets ((type, status), (type), ())`)
        return statsFrom(rows)
      })
  }
}

/** One row of the stats query: per (type, status), per type (status null), and overall (both null). */
interface StatsRow {
  type: string | null
  status: JobStatus | null
  n: string | number
  mean: number | null
  p50: number | null
  p95: number | null
  durations: string | number
}

const statsFrom = (rows: ReadonlyArray<StatsRow>): Stats => {
  const empty = (): Record<JobStatus, number> => ({
    pending: 0, processing: 0, retrying: 0, completed: 0, failed: 0, cancelled: 0
  })
  const rate = (c: Record<JobStatus, number>) =>
    c.completed + c.failed === 0 ? null : c.completed / (c.completed + c.failed)
  const durationsOf = (r: StatsRow | undefined) => ({
    count: Number(r?.durations ?? 0),
    meanMs: r?.mean ?? null,
    p50Ms: r?.p50 ?? null,
    p95Ms: r?.p95 ?? null
  })
  const total = empty()
  const byType = new Map<string, { counts: Record<JobStatus, number>; row?: StatsRow }>()
  let overall: StatsRow | undefined
  for (const r of rows) {
    if (r.type === null) {
      overall = r
      continue
    }
    const entry = byType.get(r.type) ?? { counts: empty() }
    byType.set(r.type, entry)
    if (r.status === null) entry.row = r
    else {
      entry.counts[r.status] += Number(r.n)
      total[r.status] += Number(r.n)
    }
  }
  return {
    counts: total,
    successRate: rate(total),
    durations: durationsOf(overall),
    byType: [...byType.entries()]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([type, e]) => ({ type, counts: e.counts, successRate: rate(e.counts), durations: durationsOf(e.row) }))
  }
}
