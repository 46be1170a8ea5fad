/**
 * A job's view: the row and, when pending, its queue position (rule 8),
 * bounded: exact for the first `QueuePosition.cap` places, capped beyond.
 *
 * @since 0.2.0
 */
import { Effect } from "effect"
import { JobId, JobNotFound, QueuePosition } from "@jobtrack/core"
import type { JobStoreShape, JobView, StoreError } from "@jobtrack/core"
import { sql } from "kysely"
import type { RawBuilder } from "kysely"
import { toRecord } from "../Rows.js"
import type { JobRow } from "../Rows.js"
import { iso, now } from "./Context.js"
import type { StoreContext } from "./Context.js"
import * as PositionBoundary from "./PositionBoundary.js"
import * as Steps from "./Steps.js"

/**
 * `[walked, counted]` over the first `limit` claimable jobs ahead of `j` in claim
 * order (the walk `QueuePosition.fromWalk` describes): how many it looked at,
 * and how many of them start before `j`. Its own group's jobs and jobs without a
 * limited group always do; another group's job only while that group has room
 * for it (running jobs of the group + the group's jobs ahead of it < its limit),
 * as in `claim`.
 *
 * The jobs ahead are two index ranges of `jobs_claim` (queue, priority desc,
 * run_at, id), each read from the front and stopped by the limit: a higher
 * priority, then the same priority and an earlier (run_at, id). The cost is
 * the limit's, whatever the queue's length or the job's place.
 */
const walk = (ctx: StoreContext, t: string, limit: number): RawBuilder<unknown> => {
  const { jobs } = ctx
  const claimable = sql`o.queue = j.queue and o.status in ('pending', 'retrying') and o.run_at <= ${t}::timestamptz`
  const columns = sql`o.id, o.group_key, o.group_limit, o.priority, o.run_at`
  const order = sql`o.priority desc, o.run_at, o.id`
  return sql`(
    with w as materialized (
      -- the higher priority range first, then the same priority one (an append keeps
      -- that order; an outer order by would sort the second range instead of merging)
      select * from (
        (select ${columns} from ${jobs} o where ${claimable} and o.priority > j.priority
          order by ${order} limit ${sql.lit(limit)})
        union all
        (select ${columns} from ${jobs} o
          where ${claimable} and o.priority = j.priority and (o.run_at, o.id) < (j.run_at, j.id)
          order by ${order} limit ${sql.lit(limit)})
      ) o limit ${sql.lit(limit)}
    ), others as (
      select w.group_key, w.group_limit,
        row_number() over (partition by w.group_key order by w.priority desc, w.run_at, w.id) - 1 as before
      from w where w.group_key is not null and w.group_limit is not null and w.group_key is distinct from j.group_key
    ), running as (
      select r.group_key, count(*) as n from ${jobs} r
      where r.status = 'processing' and r.group_key in (select others.group_key from others)
      group by r.group_key
    )
    select array[
      (select count(*) from w),
      (select count(*) from w where w.group_key is null or w.group_limit is null or w.group_key = j.group_key)
        + (select count(*) from others left join running on running.group_key = others.group_key
           where others.before + coalesce(running.n, 0) < others.group_limit)
    ]::int[]
  )`
}

/** The position from a walk's `[walked, counted]`, as `QueuePosition.fromWalk` counts. */
const fromCounts = (counts: ReadonlyArray<number>): QueuePosition.QueuePosition => {
  const [walked, counted] = counts as [number, number]
  return counted >= QueuePosition.cap
    ? { position: QueuePosition.cap + 1, capped: true }
    : { position: counted + 1, capped: walked >= QueuePosition.reach }
}

/**
 * The row and, when pending, its queue position (rule 8). The row is read with
 * its steps, its exact claim key and the count of jobs that left, by the
 * `view_row` function (migration 0017, planned once per connection): a job
 * behind its queue's boundary (`PositionBoundary`) is then past the cap with
 * no walk, in that one query, about as cheap to plan and run as a get. Otherwise a second query walks the first `QueuePosition.cap` claimable
 * jobs ahead in claim order, which settles it unless some of them are another
 * group's jobs waiting for room: only then a third walks up to
 * `QueuePosition.reach`. (One query holding the walks cost more to plan than a
 * get costs in all.)
 *
 * @since 0.2.0
 * @category reads
 */
export const position = (ctx: StoreContext): Pick<JobStoreShape, "view" | "queuePosition"> => {
  const { jobs, run } = ctx
  const boundaries = PositionBoundary.make(ctx)
  const viewRow = sql.id(ctx.schema, "view_row")
  const view = (id: string): Effect.Effect<JobView, JobNotFound | StoreError> =>
    Effect.gen(function*() {
      if (!JobId.isValid(id)) return yield* new JobNotFound({ id })
      const t = iso(yield* now)
      // the row, its steps, and when pending its claim key and the count of jobs that left (to
      // tell whether it is behind its queue's boundary): `view_row` (migration 0017), planned
      // once per connection, so the view costs about a get's planning
      const rows = yield* run("view", sql<JobRow & { run_at_us: string | null; departed: string | null; steps: unknown }>`
        select (v.job).*, v.steps, v.run_at_us, v.departed from ${viewRow}(${id}::uuid) v`)
      if (rows.length === 0) return yield* new JobNotFound({ id })
      const row = rows[0]!
      const record = { ...toRecord(row), steps: Steps.fromViewColumn(row.steps) }
      if (row.status !== "pending" || row.departed === null || row.run_at_us === null) {
        return { ...record, ...QueuePosition.fields(null) }
      }
      const key = { queue: row.queue, priority: row.priority, runAtUs: BigInt(row.run_at_us), id: row.id }
      if (boundaries.proves(key, Number(row.departed))) {
        return { ...record, ...QueuePosition.fields({ position: QueuePosition.cap + 1, capped: true }) }
      }
      // otherwise walk: the first cap jobs ahead; up to reach only when some of them do not count
      const walked = (limit: number) =>
        Effect.map(
          run("view", sql<{ counts: ReadonlyArray<number> | null }>`
            select ${walk(ctx, t, limit)} as counts from ${jobs} j where j.id = ${id}::uuid`),
          (r) => r[0]?.counts ?? [0, 0]
        )
      let counts = yield* walked(QueuePosition.cap)
      if (counts[0]! >= QueuePosition.cap && counts[1]! < QueuePosition.cap) counts = yield* walked(QueuePosition.reach)
      yield* boundaries.after({
        queue: row.queue,
        left: Number(row.departed),
        walkedToCap: counts[1]! >= QueuePosition.cap
      }, t)
      return { ...record, ...QueuePosition.fields(fromCounts(counts)) }
    })
  return {
    view,
    queuePosition: (id) =>
      Effect.map(view(id), (v) => v.queuePosition === null ? null : { position: v.queuePosition, capped: v.queuePositionCapped })
  }
}
