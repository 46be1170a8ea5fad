/**
 * Per queue, a boundary in claim order behind which a job is past the queue
 * position's cap, proved without a walk (migration 0010 explains the count of
 * jobs that left it relies on).
 *
 * A boundary is read by walking the first `cap + margin` claimable jobs of the
 * queue from the front: its key is the last one's, and `counted` of them start
 * before any job behind it (another group's job only while its group has room,
 * as in the view's walk; a job's own group would only add to that). Each job
 * that leaves the claimable set takes one number of `claimable_left`, and one
 * leaving takes at most one job from that count (a claim of a group's job takes
 * one place of its group too, but it is itself one that left). So while fewer
 * than `counted - cap` numbers were taken since the boundary's `stamp`, every
 * job behind it has at least `cap` jobs ahead that start first: "more than
 * 1,000". New jobs and jobs becoming due only add to the jobs ahead.
 *
 * The stamp must not miss a job that left before it was read but whose
 * transaction committed after the walk's snapshot (the walk would have counted
 * it, the stamp would not): the stamp is read first (by the view), then a new
 * transaction id is taken, and the walk's boundary is kept only when its
 * snapshot has no transaction older than that id running.
 *
 * @since 0.3.0
 */
import { Effect } from "effect"
import { QueuePosition } from "@jobtrack/core"
import { sql } from "kysely"
import type { RawBuilder } from "kysely"
import type { StoreContext } from "./Context.js"

/** Jobs counted past the cap: how many may leave before a boundary expires. */
export const margin = 500

interface Boundary {
  readonly queue: string
  readonly priority: number
  /** Text as PostgreSQL wrote it, so that microseconds survive the round trip. */
  readonly run_at: string
  readonly id: string
  readonly stamp: number
  readonly margin: number
}

/**
 * @since 0.3.0
 * @category models
 */
export interface PositionBoundaries {
  /** The number of jobs that left so far (an SQL scalar; reads the sequence). */
  readonly left: RawBuilder<unknown>
  /** True when the row `j` is behind its queue's boundary and fewer than its margin left since. */
  readonly proves: () => RawBuilder<boolean>
  /**
   * After a view of a pending job of `queue`: forget the queue's boundary once
   * it expired, and read a new one when the view walked to the cap without one.
   */
  readonly after: (
    view: { readonly queue: string; readonly left: number; readonly walkedToCap: boolean },
    t: string
  ) => Effect.Effect<void>
}

/**
 * @since 0.3.0
 * @category constructors
 */
export const make = (ctx: StoreContext): PositionBoundaries => {
  const { jobs, run } = ctx
  const boundaries = new Map<string, Boundary>()
  const reading = new Set<string>()
  const left = sql`(
    select case when s.is_called then s.last_value else s.last_value - 1 end from ${sql.id(ctx.schema, "claimable_left")} s
  )`

  const proves = () =>
    sql<boolean>`exists (
      select 1 from jsonb_to_recordset(${JSON.stringify([...boundaries.values()])}::jsonb)
        as b(queue text, priority integer, run_at timestamptz, id uuid, stamp bigint, margin bigint)
      where b.queue = j.queue
        and (j.priority < b.priority or (j.priority = b.priority and (j.run_at, j.id) > (b.run_at, b.id)))
        and ${left} - b.stamp < b.margin
    )`

  /**
   * Read a queue's boundary, `stamp` being the count of jobs that left as a view
   * read it just before. A transaction id taken now is newer than any that had
   * taken one of those numbers (a snapshot's xmax is not: a transaction can be
   * running with an id at or past it); the walk's snapshot must have none of
   * them running, or the boundary is not kept.
   */
  const read = (queue: string, stamp: number, t: string) =>
    Effect.gen(function*() {
      const [horizon] = yield* run("positionBoundary", sql<{ x: string }>`select pg_current_xact_id()::text as x`)
      const limit = sql.lit(QueuePosition.cap + margin)
      const rows = yield* run("positionBoundary", sql<{
        counted: number
        priority: number
        run_at: string
        id: string
        settled: boolean
      }>`
        with w as materialized (
          select o.id, o.group_key, o.group_limit, o.priority, o.run_at from ${jobs} o
          where o.queue = ${queue} and o.status in ('pending', 'retrying') and o.run_at <= ${t}::timestamptz
          order by o.priority desc, o.run_at, o.id limit ${limit}
        ), grouped as (
          select w.group_key, w.group_limit,
            row_number() over (partition by w.group_key order by w.priority desc, w.run_at, w.id) - 1 as before
          from w where w.group_key is not null and w.group_limit is not null
        ), running as (
          select r.group_key, count(*) as n from ${jobs} r
          where r.status = 'processing' and r.group_key in (select grouped.group_key from grouped)
          group by r.group_key
        )
        select
          ((select count(*) from w where w.group_key is null or w.group_limit is null)
            + (select count(*) from grouped left join running on running.group_key = grouped.group_key
               where grouped.before + coalesce(running.n, 0) < grouped.group_limit))::int as counted,
          last.priority, last.run_at::text as run_at, last.id::text as id,
          pg_snapshot_xmin(pg_current_snapshot()) > ${horizon!.x}::xid8 as settled
        from (select w.priority, w.run_at, w.id from w order by w.priority, w.run_at desc, w.id desc limit 1) last`)
      const b = rows[0]
      if (b && b.settled && b.counted > QueuePosition.cap) {
        boundaries.set(queue, {
          queue,
          priority: b.priority,
          run_at: b.run_at,
          id: b.id,
          stamp,
          margin: b.counted - QueuePosition.cap
        })
      }
    })

  const after: PositionBoundaries["after"] = (view, t) =>
    Effect.suspend(() => {
      const b = boundaries.get(view.queue)
      if (b && view.left - b.stamp >= b.margin) boundaries.delete(view.queue)
      if (!view.walkedToCap || boundaries.has(view.queue) || reading.has(view.queue)) return Effect.void
      reading.add(view.queue)
      // best effort: a view never fails for want of a boundary
      return read(view.queue, view.left, t).pipe(Effect.ignore, Effect.ensuring(Effect.sync(() => reading.delete(view.queue))))
    })

  return { left, proves, after }
}
