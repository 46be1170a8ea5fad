/**
 * The console's charts on PostgreSQL (`AdminStore.series`, rule 18) over a
 * summary of finished minutes, so that a day's chart at a million jobs reads
 * a few thousand summary rows instead of every job that finished.
 *
 * `series_rollup` (migration 0012) holds, per minute and per quarter hour, and
 * per (queue, type), per queue, per type and overall, the jobs finished by outcome (metric 0: bin 0 completed,
 * 1 failed, 2 cancelled) and their durations (metric 1) and queue waits
 * (metric 2) as `SeriesHistogram` bin counts. The summarized minutes are one
 * range `[lo, hi)` (`series_rolled`), which `SeriesSummarizer.ts` extends in
 * the background in bounded chunks. A chart read never writes it and never
 * waits for it: it sums summary rows for what is summarized, and bins the
 * jobs themselves for the rest (the last minute or two; after an upgrade or a
 * pause, whatever the summary does not reach yet), reading at most
 * `directJobs` of them (5,000), newest first. A bucket that this bound cuts
 * is marked `partial`; a later read, once the summary reaches it, counts it
 * whole. A read that finds the summary behind starts the summarizer in the
 * background of this process (`kick`). What a read takes from the summary is
 * the stored range alone, never this process's clock (which may be ahead of
 * the summarizer's): the clock only decides whether to kick and where the
 * bounded read applies.
 *
 * What the summary never holds is read from the jobs in full, as before
 * migration 0012: a chart filtered by owner (the summary has no owner), a
 * bucket that is not whole minutes, and the part of a range older than the
 * summary's two days.
 *
 * A bucket read from the summary alone does not change any more: the store
 * keeps it in memory and the next read of the chart reads only the buckets
 * after it (the last minute or quarter hour, typically).
 *
 * @since 0.2.0
 */
import { Clock, Effect } from "effect"
import { AdminStore, SeriesHistogram } from "@jobtrack/core"
import type { StoreError } from "@jobtrack/core"
import { sql } from "../kyselyModule.js"
import type { RawBuilder } from "kysely"
import { condition } from "./AdminFilter.js"
import type { StoreContext } from "./Context.js"
import { minute, quarter, window } from "./SeriesSummarizer.js"
import type { Rolled, Summarizer } from "./SeriesSummarizer.js"
import { binned, finished, finishedIn, outcomes, ts } from "./SeriesSql.js"

/** Finished jobs a chart read bins at most from the jobs themselves where the summary will reach. */
export const defaultDirectJobs = 5_000

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

interface SeriesRow {
  readonly b: Date | string | null
  readonly metric: number
  readonly n0: string | number
  readonly n1: string | number
  readonly n2: string | number
  readonly p50: number | null
  readonly p95: number | null
}

type Range = readonly [number, number]

/**
 * The newest `cap + 1` finished jobs of the ranges (given newest first), one
 * backward scan of `jobs_admin_finished` per range, whatever the filter (the
 * filter is applied to what was read, so the scan stays bounded).
 */
const newest = (jobs: RawBuilder<unknown>, ranges: ReadonlyArray<Range>, cap: number) =>
  sql`select * from (${
    sql.join(
      ranges.map((r) =>
        sql`(select completed_at, queue, type, owner, status, started_at, run_at from ${jobs}
          where completed_at is not null and ${finishedIn([r])} order by completed_at desc limit ${cap + 1})`
      ),
      sql` union all `
    )
  }) u order by completed_at desc limit ${cap + 1}`

/**
 * @since 0.2.0
 * @category constructors
 */
export const series = (
  ctx: StoreContext,
  summarizer: Summarizer,
  options: { readonly directJobs?: number; readonly background?: boolean } = {}
): AdminStore.AdminStoreShape["series"] => {
  const { jobs, run } = ctx
  const rollup = sql.id(ctx.schema, "series_rollup")
  const cap = Math.max(1, Math.floor(options.directJobs ?? defaultDirectJobs))
  const background = options.background ?? true
  /** Buckets read from the summary alone, by width, queue, type and start. */
  const done = new Map<string, AdminStore.SeriesBucket>()

  /** Summary rows of `[lo, hi)` for the filter's scope, quarter rows where whole quarters fit. */
  const summaryRows = (
    request: AdminStore.SeriesRequest,
    width: number,
    first: number,
    bucket: (col: string) => RawBuilder<unknown>,
    { hi, lo }: Rolled
  ): Array<RawBuilder<unknown>> => {
    // the rows summed over what the filter leaves open: per (queue, type), queue, type or all
    const { queue, type } = request.filter
    const scope = queue !== undefined ? (type !== undefined ? 0 : 1) : type !== undefined ? 2 : 3
    const summary = (w: number, a: number, b: number) =>
      sql`select ${bucket("at")} as b, metric, bin, n from ${rollup}
        where width = ${w} and scope = ${scope} and at >= ${ts(a)} and at < ${ts(b)}
          and queue = ${queue ?? ""} and type = ${type ?? ""}`
    const q0 = Math.ceil(lo / quarter) * quarter
    const q1 = Math.floor(hi / quarter) * quarter
    if (width % quarter === 0 && first % quarter === 0 && q0 < q1) {
      return [summary(900, q0, q1), ...(lo < q0 ? [summary(60, lo, q0)] : []), ...(q1 < hi ? [summary(60, q1, hi)] : [])]
    }
    return [summary(60, lo, hi)]
  }

  /**
   * Per bucket and metric: the counts by outcome (metric 0), and the bins holding the
   * nearest-rank p50 and p95 (as SeriesHistogram.percentile: rank ceil(p * total), in float8);
   * with a bounded read, one more row (metric -1): the jobs it read (n0) and the oldest finish (b).
   */
  const aggregate = (
    parts: ReadonlyArray<RawBuilder<unknown>>,
    bounded: RawBuilder<unknown> | null,
    first: number,
    end: number
  ) =>
    sql<SeriesRow>`
      with ${bounded === null ? sql`` : sql`scanned as (${bounded}),`} x as (
        select b, metric, bin, sum(n) as n from (${sql.join(parts, sql` union all `)}) p
        where b >= ${ts(first)} and b < ${ts(end)} group by 1, 2, 3
      ), c as (
        select b, metric, bin, n, sum(n) over (partition by b, metric order by bin) as cum,
          sum(n) over (partition by b, metric) as total
        from x
      )
      select b, metric,
        coalesce(sum(n) filter (where bin = 0), 0) as n0,
        coalesce(sum(n) filter (where bin = 1), 0) as n1,
        coalesce(sum(n) filter (where bin = 2), 0) as n2,
        min(bin) filter (where cum >= greatest(1, ceil(0.5::float8 * total))) as p50,
        min(bin) filter (where cum >= greatest(1, ceil(0.95::float8 * total))) as p95
      from c group by 1, 2
      ${bounded === null ? sql`` : sql`union all select min(completed_at), -1, count(*), 0, 0, null, null from scanned`}`

  return (request) =>
    Effect.gen(function*() {
      const width = AdminStore.bucketWidth(request)
      const from = request.from.getTime()
      const to = request.to.getTime()
      const count = Math.max(0, Math.ceil((to - from) / width))
      const now = yield* Clock.currentTimeMillis
      const summarizable = request.filter.owner === undefined && width % minute === 0 && from % minute === 0
      const { floor, horizon } = window(now)

      let s: Rolled | null = null
      if (summarizable) {
        s = yield* summarizer.state
        // behind: summarized in the background (runners do it too); this read does not wait
        if (background && (s === null || s.hi < horizon || s.lo > floor)) yield* summarizer.kick
      }
      // buckets read from the summary alone do not change: the leading ones this process
      // has already read are taken as they were, and only the rest is read
      const key = (start: number) =>
        `${width}|${request.filter.queue ?? "\u0000"}|${request.filter.type ?? "\u0000"}|${start}`
      const known: Array<AdminStore.SeriesBucket> = []
      while (s !== null && known.length < count) {
        const b = done.get(key(from + known.length * width))
        if (b === undefined) break
        known.push(b)
      }
      if (known.length === count) return known
      const first = from + known.length * width
      const left = count - known.length

      const f = ts(first)
      // the start of the bucket a time falls in
      const bucket = (col: string) => sql`date_bin(${width} * interval '1 millisecond', ${sql.ref(col)}, ${f})`
      const rolled = s === null ? null : clip(s, first, to)
      const parts = rolled === null ? [] : summaryRows(request, width, first, bucket, rolled)
      const raw = rolled === null ? [[first, to] as const] : unsummarized(rolled, first, to)
      // where the summary will reach, at most `cap` jobs are read (newest first); older than
      // the summary's reach (and all of a chart it cannot serve), every job, as before
      const recent = summarizable ? raw.map(([a, b]) => [Math.max(a, floor), b] as const).filter(([a, b]) => a < b) : []
      const old = summarizable ? raw.map(([a, b]) => [a, Math.min(b, floor)] as const).filter(([a, b]) => a < b) : raw
      const where = condition(request.filter)
      if (old.length > 0) {
        parts.push(sql`select * from (with src as (${finished(jobs, old, where)})
          ${binned(sql`${bucket("completed_at")} as b`, 1)}) r`)
      }
      const bounded = recent.length > 0 ? newest(jobs, [...recent].reverse(), cap) : null
      if (bounded !== null) {
        parts.push(sql`select * from (with src as (${outcomes(sql`scanned`, where)})
          ${binned(sql`${bucket("completed_at")} as b`, 1)}) d`)
      }
      const rows = yield* run("series", aggregate(parts, bounded, first, first + left * width))

      const buckets = toBuckets(rows, first, width, left)
      // the bound cut the read: the buckets of what it left unread count only some of their jobs
      const meta = rows.find((r) => Number(r.metric) === -1)
      if (meta !== undefined && Number(meta.n0) > cap && meta.b !== null) {
        const cut = new Date(meta.b).getTime() + 1
        for (const b of buckets) {
          const start = b.start.getTime()
          if (recent.some(([a, e]) => Math.max(a, start) < Math.min(e, cut, start + width))) b.partial = true
        }
      }
      if (s !== null) {
        if (done.size > 20_000) done.clear()
        for (const b of buckets) {
          const start = b.start.getTime()
          if (start >= s.lo && start + width <= Math.min(s.hi, to)) done.set(key(start), b)
        }
      }
      return [...known, ...buckets]
    }) as Effect.Effect<ReadonlyArray<AdminStore.SeriesBucket>, StoreError>
}

/** The summarized range within `[first, to)`, or null when they do not meet. */
const clip = (s: Rolled, first: number, to: number): Rolled | null => {
  const lo = Math.min(Math.max(s.lo, first), to)
  const hi = Math.min(Math.max(s.hi, first), to)
  return lo < hi ? { lo, hi } : null
}

/** What of `[first, to)` the summarized range leaves to read from the jobs, oldest first. */
const unsummarized = ({ hi, lo }: Rolled, first: number, to: number): Array<Range> => [
  ...(first < lo ? [[first, lo] as const] : []),
  ...(hi < to ? [[hi, to] as const] : [])
]

/** Buckets from the aggregated rows. */
const toBuckets = (rows: ReadonlyArray<SeriesRow>, first: number, width: number, left: number) => {
  const buckets = Array.from({ length: left }, (_, i): Mutable<AdminStore.SeriesBucket> => ({
    start: new Date(first + i * width),
    completed: 0,
    failed: 0,
    cancelled: 0,
    durationP50Ms: null,
    durationP95Ms: null,
    waitP50Ms: null,
    waitP95Ms: null
  }))
  const value = (bin: number | string | null) => (bin === null ? null : SeriesHistogram.binValue(Number(bin)))
  for (const r of rows) {
    if (r.b === null) continue
    const b = buckets[Math.round((new Date(r.b).getTime() - first) / width)]
    if (!b) continue
    switch (Number(r.metric)) {
      case 0:
        b.completed = Number(r.n0)
        b.failed = Number(r.n1)
        b.cancelled = Number(r.n2)
        break
      case 1:
        b.durationP50Ms = value(r.p50)
        b.durationP95Ms = value(r.p95)
        break
      case 2:
        b.waitP50Ms = value(r.p50)
        b.waitP95Ms = value(r.p95)
    }
  }
  return buckets
}
