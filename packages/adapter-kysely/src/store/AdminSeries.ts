/**
 * The console's charts on PostgreSQL (`AdminStore.series`, rule 18) over a
 * summary of finished minutes, so that a day's chart at a million jobs reads
 * a few thousand summary rows instead of every job that finished.
 *
 * `series_rollup` (migration 0012) holds, per minute and per quarter hour, and
 * per (queue, type), per queue, per type and overall, the jobs finished by outcome (metric 0: bin 0 completed,
 * 1 failed, 2 cancelled) and their durations (metric 1) and queue waits
 * (metric 2) as `SeriesHistogram` bin counts. The summarized minutes are one
 * range `[lo, hi)` (`series_rolled`). A chart read first extends that range
 * up to a minute (`lag`) before now and back to the start of what it asks for
 * (at most `keep` back), under a try-lock so that concurrent readers never
 * wait for each other (one that does not get the lock reads the jobs
 * instead), then sums summary rows for what is summarized and bins the jobs
 * themselves for the rest (the last minute or two, or everything when the
 * filter names an owner: the summary has no owner). Nothing is written when a
 * job finishes: the summary costs the processing path nothing.
 *
 * A bucket read from the summary alone does not change any more: the store
 * keeps it in memory and the next read of the chart reads only the buckets
 * after it (the last minute or quarter hour, typically).
 *
 * Where the summary cannot be written (a read-only replica), the chart is
 * read from the jobs alone, as before migration 0012.
 *
 * A minute is summarized once: a job whose finish time lands in it later
 * (a worker clock more than `lag` behind) is not counted, and a summarized
 * job stays counted where it finished when it is later retried, deleted or
 * pruned.
 *
 * @since 0.3.0
 */
import { Clock, Effect } from "effect"
import { AdminStore, SeriesHistogram } from "@jobtrack/core"
import type { StoreError } from "@jobtrack/core"
import { sql } from "../kyselyModule.js"
import type { Kysely, RawBuilder } from "kysely"
import { toStoreError } from "../SqlError.js"
import { condition } from "./AdminFilter.js"
import type { StoreContext } from "./Context.js"

const minute = 60_000
const quarter = 900_000
/** How long after a minute ends it is summarized: finishes commit within it. */
const lag = 60_000
/** How far back the summary reaches (and is kept). */
const keep = 2 * 86_400_000

const iso = (ms: number) => new Date(ms).toISOString()
const ts = (ms: number) => sql`${iso(ms)}::timestamptz`

/** `SeriesHistogram.binOf` in SQL, over a float8 of ms. */
const bin = (ms: RawBuilder<unknown>) =>
  sql`case when ${ms} is null then null when ${ms} < 1 then 0
    else floor(ln(${ms}) / ln(2::float8) * ${sql.lit(SeriesHistogram.binsPerOctave)})::int + 1 end`

/** Finished jobs in the ranges, with their outcome, duration and wait in ms. */
const finished = (jobs: RawBuilder<unknown>, ranges: ReadonlyArray<readonly [number, number]>, where: RawBuilder<unknown>) =>
  sql`
    select completed_at, queue, type, status,
      case when status <> 'cancelled' and started_at is not null
        then extract(epoch from (completed_at - started_at)) * 1000 end::float8 as d,
      case when status <> 'cancelled' and started_at is not null
        then extract(epoch from (started_at - run_at)) * 1000 end::float8 as w
    from ${jobs}
    where status in ('completed', 'failed', 'cancelled') and completed_at is not null
      and (${sql.join(ranges.map(([a, b]) => sql`(completed_at >= ${ts(a)} and completed_at < ${ts(b)})`), sql` or `)})
      and ${where}`

/**
 * Rows (key…, metric, bin, n) of the finished jobs in `src`, grouped by the
 * `keys` first columns of `key` (SQL over the `src` columns).
 */
const binned = (key: RawBuilder<unknown>, keys: number) => {
  const by = sql.raw([...Array.from({ length: keys }, (_, i) => i + 1), keys + 2].join(", "))
  return sql`
    select ${key}, 0 as metric, case status when 'completed' then 0 when 'failed' then 1 else 2 end as bin, count(*) as n
      from src group by ${by}
    union all
    select ${key}, 1, ${bin(sql.ref("d"))}, count(*) from src where d is not null group by ${by}
    union all
    select ${key}, 2, ${bin(sql.ref("w"))}, count(*) from src where w is not null group by ${by}`
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

interface SeriesRow {
  readonly b: Date | string
  readonly metric: number
  readonly n0: string | number
  readonly n1: string | number
  readonly n2: string | number
  readonly p50: number | null
  readonly p95: number | null
}

interface Rolled {
  readonly lo: number
  readonly hi: number
}

/**
 * @since 0.3.0
 * @category constructors
 */
export const series = (ctx: StoreContext): AdminStore.AdminStoreShape["series"] => {
  const { db, jobs, run, schema } = ctx
  const rollup = sql.id(schema, "series_rollup")
  const rolled = sql.id(schema, "series_rolled")
  /** Buckets read from the summary alone, by width, queue, type and start. */
  const done = new Map<string, AdminStore.SeriesBucket>()

  const state = (executor: Kysely<unknown> = db) =>
    Effect.map(
      run("series", sql<{ lo: Date | string; hi: Date | string }>`select lo, hi from ${rolled}`, executor),
      (rows): Rolled | null => rows[0] ? { lo: new Date(rows[0].lo).getTime(), hi: new Date(rows[0].hi).getTime() } : null
    )

  /**
   * Summarize the minutes `[a, b)` into minute rows and (added to) quarter rows,
   * written in key order so that a chart's range of rows lies on few pages.
   */
  const summarize = (trx: Kysely<unknown>, a: number, b: number) =>
    sql`
      with src as (${finished(jobs, [[a, b]], sql`true`)}),
      m as (${
      binned(
        sql`to_timestamp(floor(extract(epoch from completed_at) / 60) * 60) as at, queue, type`,
        3
      )
    }),
      scoped as (
        select m.at, s.scope, case when s.scope in (0, 1) then m.queue else '' end as queue,
          case when s.scope in (0, 2) then m.type else '' end as type, m.metric, m.bin, sum(m.n) as n
        from m cross join (values (0), (1), (2), (3)) as s(scope)
        group by 1, 2, 3, 4, 5, 6
      ),
      minutes as (
        insert into ${rollup} (width, scope, at, queue, type, metric, bin, n)
        select 60, scope, at, queue, type, metric, bin, n from scoped
        order by scope, at, queue, type, metric, bin
        on conflict (width, scope, at, queue, type, metric, bin) do update set n = ${rollup}.n + excluded.n
        returning 1
      )
      insert into ${rollup} (width, scope, at, queue, type, metric, bin, n)
      select 900, scope, to_timestamp(floor(extract(epoch from at) / 900) * 900), queue, type, metric, bin, sum(n) from scoped
      group by 2, 3, 4, 5, 6, 7
      order by 2, 3, 4, 5, 6, 7
      on conflict (width, scope, at, queue, type, metric, bin) do update set n = ${rollup}.n + excluded.n`.execute(trx)

  /** Extend the summary to `[want, horizon)` (within `keep`), unless another reader is at it. */
  const catchUp = (want: number, now: number) =>
    Effect.tryPromise({
      try: () =>
        db.transaction().execute(async (trx) => {
          const lock = await sql<{ ok: boolean }>`
            select pg_try_advisory_xact_lock(hashtext('jobtrack.series'), hashtext(${schema})) as ok`.execute(trx)
          if (!lock.rows[0]?.ok) return
          const horizon = Math.floor((now - lag) / minute) * minute
          const floor = horizon - keep
          const r = await sql<{ lo: Date | string; hi: Date | string }>`select lo, hi from ${rolled}`.execute(trx)
          let lo = r.rows[0] ? new Date(r.rows[0].lo).getTime() : null
          let hi = r.rows[0] ? new Date(r.rows[0].hi).getTime() : null
          const start = Math.min(horizon, Math.max(floor, want))
          if (lo === null || hi === null || hi < floor) {
            // nothing yet, or too old to join: start afresh
            await sql`delete from ${rollup}`.execute(trx)
            lo = hi = start
          }
          if (hi < horizon) {
            await summarize(trx, hi, horizon)
            hi = horizon
          }
          if (start < lo) {
            await summarize(trx, start, lo)
            lo = start
          }
          if (lo < floor) {
            await sql`delete from ${rollup} where at < ${ts(floor)}`.execute(trx)
            lo = floor
          }
          await sql`
            insert into ${rolled} (one, lo, hi) values (true, ${ts(lo)}, ${ts(hi)})
            on conflict (one) do update set lo = excluded.lo, hi = excluded.hi`.execute(trx)
        }),
      catch: (e) => toStoreError("series", e)
    })

  return (request) =>
    Effect.gen(function*() {
      const width = AdminStore.bucketWidth(request)
      const from = request.from.getTime()
      const to = request.to.getTime()
      const count = Math.max(0, Math.ceil((to - from) / width))
      const now = yield* Clock.currentTimeMillis
      const summarizable = request.filter.owner === undefined && width % minute === 0 && from % minute === 0

      let rolledRange: Rolled | null = null
      let s: Rolled | null = null
      if (summarizable) {
        const horizon = Math.floor((now - lag) / minute) * minute
        const want = Math.max(from, horizon - keep)
        s = yield* state()
        if (s === null || s.hi < horizon || s.lo > Math.min(want, horizon)) {
          // a database that refuses the write (a read replica) still answers: from the jobs
          yield* catchUp(want, now).pipe(Effect.orElseSucceed(() => undefined))
          s = yield* state()
        }
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
      if (s !== null) {
        const a = Math.min(Math.max(s.lo, first), to)
        const b = Math.min(Math.max(s.hi, first), to)
        if (a < b) rolledRange = { lo: a, hi: b }
      }

      const f = ts(first)
      // the start of the bucket a time falls in
      const bucket = (col: string) => sql`date_bin(${width} * interval '1 millisecond', ${sql.ref(col)}, ${f})`
      const parts: Array<RawBuilder<unknown>> = []
      const raw: Array<readonly [number, number]> = []
      if (rolledRange === null) {
        raw.push([first, to])
      } else {
        const { hi, lo } = rolledRange
        if (first < lo) raw.push([first, lo])
        if (hi < to) raw.push([hi, to])
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
          parts.push(summary(900, q0, q1))
          if (lo < q0) parts.push(summary(60, lo, q0))
          if (q1 < hi) parts.push(summary(60, q1, hi))
        } else {
          parts.push(summary(60, lo, hi))
        }
      }
      if (raw.length > 0) {
        parts.push(sql`select * from (with src as (${finished(jobs, raw, condition(request.filter))})
          ${binned(sql`${bucket("completed_at")} as b`, 1)}) r`)
      }
      // per bucket and metric: the counts by outcome (metric 0), and the bins holding the
      // nearest-rank p50 and p95 (as SeriesHistogram.percentile: rank ceil(p * total), in float8)
      const rows = yield* run("series", sql<SeriesRow>`
        with x as (
          select b, metric, bin, sum(n) as n from (${sql.join(parts, sql` union all `)}) p
          where b >= ${f} and b < ${ts(first + left * width)} group by 1, 2, 3
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
        from c group by 1, 2`)

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
