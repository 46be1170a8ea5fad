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
 * it, the stamp would not): the stamp is read first (by a view), then a new
 * transaction id is taken, and the walk, on a later view, counts only when its
 * snapshot has no transaction older than that id running. A database that
 * always has an older transaction running (an hours-long report) gets no
 * boundary: views then walk, as they would without one.
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
  readonly priority: number
  /** run_at in microseconds since the epoch (exact, as text), as the claim order compares it. */
  readonly runAtUs: bigint
  readonly id: string
  readonly stamp: number
  readonly margin: number
}

/**
 * A job's claim key, with `run_at` in microseconds since the epoch (see
 * {@link runAtUs}), for comparing with a boundary in the process.
 *
 * @since 0.3.0
 * @category models
 */
export interface ClaimKey {
  readonly queue: string
  readonly priority: number
  readonly runAtUs: bigint
  readonly id: string
}

/**
 * `run_at` exactly, as text of an integer (microseconds since the epoch); a
 * JavaScript Date would keep milliseconds only.
 *
 * @since 0.3.0
 * @category constructors
 */
export const runAtUs = (column: RawBuilder<unknown>): RawBuilder<string> =>
  sql<string>`((extract(epoch from ${column}) * 1000000)::bigint)::text`

/** Claim order: is `a` after `b` (priority desc, run_at, id; ids compare as PostgreSQL's uuid order). */
const after_ = (a: Omit<ClaimKey, "queue">, b: Omit<ClaimKey, "queue">): boolean =>
  a.priority !== b.priority
    ? a.priority < b.priority
    : a.runAtUs !== b.runAtUs
    ? a.runAtUs > b.runAtUs
    : a.id > b.id

interface Horizon {
  readonly stamp: number
  /** A transaction id taken after the stamp was read. */
  readonly x: string
}

/**
 * @since 0.3.0
 * @category models
 */
export interface PositionBoundaries {
  /**
   * Whether the job is behind its queue's boundary and fewer than its margin
   * left since, `left` being the count read with the job (the sequence
   * `claimable_left`'s last value, read by `view_row`): then it is past the cap.
   */
  readonly proves: (job: ClaimKey, left: number) => boolean
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
  /** Per queue, the first step of reading a boundary (see `read`). */
  const horizons = new Map<string, Horizon>()
  const reading = new Set<string>()

  const proves: PositionBoundaries["proves"] = (job, n) => {
    const b = boundaries.get(job.queue)
    return b !== undefined && n - b.stamp < b.margin && after_(job, b)
  }

  /**
   * Read a queue's boundary in two steps, on two views that walked to the cap.
   * First the stamp (the count of jobs that left, as that view read it) and a new
   * transaction id, newer than any transaction that had taken one of those
   * numbers (a snapshot's xmax is not: a transaction can run with an id at or
   * past it). Then, on a later view, the walk, which counts only once its
   * snapshot has no transaction older than that id running: a job that left
   * before the stamp is then seen gone. Until then the boundary is not read.
   */
  const read = (queue: string, horizon: Horizon, t: string) =>
    Effect.gen(function*() {
      const limit = sql.lit(QueuePosition.cap + margin)
      const rows = yield* run("positionBoundary", sql<{ counted: number; priority: number; run_at_us: string; id: string }>`
        with w as materialized (
          select o.id, o.group_key, o.group_limit, o.priority, o.run_at from ${jobs} o
          where o.queue = ${queue} and o.status in ('pending', 'retrying') and o.run_at <= ${t}::timestamptz
            and pg_snapshot_xmin(pg_current_snapshot()) > ${horizon.x}::xid8
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
          last.priority, ${runAtUs(sql`last.run_at`)} as run_at_us, last.id::text as id
        from (select w.priority, w.run_at, w.id from w order by w.priority, w.run_at desc, w.id desc limit 1) last`)
      const b = rows[0]
      if (b === undefined) return // older transactions still running (or nothing due): next time
      horizons.delete(queue)
      if (b.counted > QueuePosition.cap) {
        boundaries.set(queue, {
          priority: b.priority,
          runAtUs: BigInt(b.run_at_us),
          id: b.id,
          stamp: horizon.stamp,
          margin: b.counted - QueuePosition.cap
        })
      }
    })

  const begin = (queue: string, stamp: number) =>
    Effect.map(
      run("positionBoundary", sql<{ x: string }>`select pg_current_xact_id()::text as x`),
      ([row]) => void horizons.set(queue, { stamp, x: row!.x })
    )

  const after: PositionBoundaries["after"] = (view, t) =>
    Effect.suspend(() => {
      const b = boundaries.get(view.queue)
      if (b && view.left - b.stamp >= b.margin) boundaries.delete(view.queue)
      if (!view.walkedToCap || boundaries.has(view.queue) || reading.has(view.queue)) return Effect.void
      const h = horizons.get(view.queue)
      reading.add(view.queue)
      // a stamp that many jobs left since would give a boundary about to expire: start over
      const step = h === undefined || view.left - h.stamp >= margin / 2 ? begin(view.queue, view.left) : read(view.queue, h, t)
      // best effort: a view never fails for want of a boundary
      return step.pipe(Effect.ignore, Effect.ensuring(Effect.sync(() => reading.delete(view.queue))))
    })

  return { proves, after }
}
