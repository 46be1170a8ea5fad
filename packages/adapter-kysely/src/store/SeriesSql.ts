/**
 * SQL shared by the chart reads (`AdminSeries.ts`) and the chart summary
 * (`SeriesSummarizer.ts`): finished jobs with their outcome, duration and
 * wait, and their histogram bins (`SeriesHistogram.binOf` in SQL).
 *
 * @since 0.2.0
 */
import { SeriesHistogram } from "@jobtrack/core"
import { sql } from "../kyselyModule.js"
import type { RawBuilder } from "kysely"

/** A time in ms as a timestamptz literal. */
export const ts = (ms: number): RawBuilder<unknown> => sql`${new Date(ms).toISOString()}::timestamptz`

/** `SeriesHistogram.binOf` in SQL, over a float8 of ms. */
export const bin = (ms: RawBuilder<unknown>): RawBuilder<unknown> =>
  sql`case when ${ms} is null then null when ${ms} < 1 then 0
    else floor(ln(${ms}) / ln(2::float8) * ${sql.lit(SeriesHistogram.binsPerOctave)})::int + 1 end`

/** Outcome, duration (`d`) and wait (`w`) in ms of the finished rows of `from` (jobs, or rows read from them). */
export const outcomes = (from: RawBuilder<unknown>, where: RawBuilder<unknown>): RawBuilder<unknown> =>
  sql`
    select completed_at, queue, type, status,
      case when status <> 'cancelled' and started_at is not null
        then extract(epoch from (completed_at - started_at)) * 1000 end::float8 as d,
      case when status <> 'cancelled' and started_at is not null
        then extract(epoch from (started_at - run_at)) * 1000 end::float8 as w
    from ${from}
    where status in ('completed', 'failed', 'cancelled') and completed_at is not null and ${where}`

/** Ranges `[a, b)` of finish time, or'ed. */
export const finishedIn = (ranges: ReadonlyArray<readonly [number, number]>): RawBuilder<unknown> =>
  sql`(${sql.join(ranges.map(([a, b]) => sql`(completed_at >= ${ts(a)} and completed_at < ${ts(b)})`), sql` or `)})`

/** Finished jobs in the ranges, with their outcome, duration and wait in ms. */
export const finished = (
  jobs: RawBuilder<unknown>,
  ranges: ReadonlyArray<readonly [number, number]>,
  where: RawBuilder<unknown>
): RawBuilder<unknown> => outcomes(jobs, sql`${finishedIn(ranges)} and ${where}`)

/**
 * Rows (key…, metric, bin, n) of the finished jobs in `src`, grouped by the
 * `keys` first columns of `key` (SQL over the `src` columns).
 */
export const binned = (key: RawBuilder<unknown>, keys: number): RawBuilder<unknown> => {
  const by = sql.raw([...Array.from({ length: keys }, (_, i) => i + 1), keys + 2].join(", "))
  return sql`
    select ${key}, 0 as metric, case status when 'completed' then 0 when 'failed' then 1 else 2 end as bin, count(*) as n
      from src group by ${by}
    union all
    select ${key}, 1, ${bin(sql.ref("d"))}, count(*) from src where d is not null group by ${by}
    union all
    select ${key}, 2, ${bin(sql.ref("w"))}, count(*) from src where w is not null group by ${by}`
}
