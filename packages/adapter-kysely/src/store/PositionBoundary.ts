/**
 * Per queue, a boundary in claim order behind which a job is past the queue
 * position's cap, proved without a walk (migration 0010 explains the count of
 * jobs that left it relies on).
 *
 * A boundary is read by walking the first `cap + margin` claimable jobs of the
 * queue from the front. Along that walk, the jobs that start before any job
 * behind them are counted (another group's job only while its group has room,
 * as in the view's walk; a job's own group would only add to that), and the
 * walk keeps checkpoints: the claim keys where that count reaches `cap`,
 * `cap + 10`, … and its last one. Each job that leaves the claimable set takes
 * one number of `claimable_left`, and one leaving takes at most one job from a
 * count (a claim of a group's job takes one place of its group too, but it is
 * itself one that left). So while no more than `counted - cap` numbers were
 * taken since the boundary's `stamp`, every job behind a checkpoint has at
 * least `cap` jobs ahead that start first: "more than 1,000". New jobs and
 * jobs becoming due only add to the jobs ahead. As jobs leave, the first
 * checkpoints expire and the later ones still prove; the boundary is gone when
 * the last one expires.
 *
 * The proof runs in the view's own query (`job_view`, migrations 0023 and
 * 0027; since 0041 the statement of `job_view5`, which the planner inlines): the
 * process passes each queue's earliest checkpoint that is still valid by the
 * last count it saw ({@link PositionBoundaries.bounds}), and the query checks
 * it against the count it reads itself, so a checkpoint that expired since is
 * never used (the view then walks).
 *
 * The stamp is the count of jobs that left as the view that triggers the
 * read saw it, read before the walk. A job that left before the stamp was
 * read, in a transaction the walk's snapshot does not see committed yet, is
 * still claimable to the walk: the walk must not count it. Such a job's row
 * has its `xmax` set (its update or delete wrote it before the counting
 * trigger took its number), so the walk counts only rows whose `xmax` is
 * unset. Rows being claimed or locked then are not counted either; that only
 * makes the count lower. This holds whatever other transactions run on the
 * server, however long.
 *
 * @since 0.2.0
 */
import { Effect } from "effect"
import { QueuePosition } from "@jobtrack/core"
import { sql } from "../kyselyModule.js"
import type { RawBuilder } from "kysely"
import { iso } from "./Context.js"
import type { StoreContext } from "./Context.js"

/** Jobs walked past the cap: how many may leave before a boundary expires. */
export const margin = 500

/** Checkpoints are kept every `step` counted jobs past the cap (and at the walk's end). */
const step = 10

/** A claim key along a boundary's walk, and the jobs counted up to and including it. */
interface Checkpoint {
  readonly priority: number
  /** run_at in microseconds since the epoch (exact, as text), as the claim order compares it. */
  readonly runAtUs: string
  readonly id: string
  readonly counted: number
}

interface Boundary {
  readonly stamp: number
  /** In claim order, `counted` rising, every `counted >= cap`. */
  readonly checkpoints: ReadonlyArray<Checkpoint>
  /** The first checkpoint still valid by the last count seen. */
  first: number
}

/** The count of jobs that left up to which a checkpoint proves. */
const validUntil = (b: Boundary, c: Checkpoint) => b.stamp + c.counted - QueuePosition.cap

/**
 * `run_at` exactly, as text of an integer (microseconds since the epoch); a
 * JavaScript Date would keep milliseconds only.
 *
 * @since 0.2.0
 * @category constructors
 */
export const runAtUs = (column: RawBuilder<unknown>): RawBuilder<string> =>
  sql<string>`((extract(epoch from ${column}) * 1000000)::bigint)::text`

/**
 * @since 0.2.0
 * @category models
 */
export interface PositionBoundaries {
  /**
   * For `job_view`: per queue with a boundary, its earliest checkpoint still
   * valid by the last count seen, as JSON `{ queue: [priority, run_at in µs,
   * id, last valid count of jobs that left] }`; `null` when there is none.
   */
  readonly bounds: () => string | null
  /**
   * After a view of a pending job of `queue`, `left` being the count of jobs
   * that left as it read it: drop the checkpoints (and the boundary) that
   * expired, and read a new boundary when the view walked to the cap without one.
   */
  readonly after: (
    view: { readonly queue: string; readonly left: number; readonly walkedToCap: boolean },
    now: number
  ) => Effect.Effect<void>
}

/**
 * @since 0.2.0
 * @category constructors
 */
export const make = (ctx: StoreContext): PositionBoundaries => {
  const { jobs, run } = ctx
  const boundaries = new Map<string, Boundary>()
  const reading = new Set<string>()
  /** Per queue, when a read found too few jobs counted: no other read for a second. */
  const failed = new Map<string, number>()
  /** `bounds()`'s text, until a boundary or its first checkpoint changes. */
  let text: string | null | undefined

  const bounds = () => {
    if (text === undefined) {
      const o: Record<string, [number, string, string, number]> = {}
      for (const [queue, b] of boundaries) {
        const c = b.checkpoints[b.first]!
        o[queue] = [c.priority, c.runAtUs, c.id, validUntil(b, c)]
      }
      text = boundaries.size === 0 ? null : JSON.stringify(o)
    }
    return text
  }

  /** Move a queue's boundary to its first checkpoint valid at `left`; drop it when none is. */
  const seen = (queue: string, left: number) => {
    const b = boundaries.get(queue)
    if (b === undefined || left <= validUntil(b, b.checkpoints[b.first]!)) return
    while (b.first < b.checkpoints.length && left > validUntil(b, b.checkpoints[b.first]!)) b.first++
    if (b.first === b.checkpoints.length) boundaries.delete(queue)
    text = undefined
  }

  /**
   * Read a queue's boundary: walk its first `cap + margin` claimable due jobs (per
   * priority, highest first: a priority is found by one descent of `jobs_claim` and
   * its due jobs are a range ending at the first one not due, so jobs of higher
   * priorities not due yet are not read; each priority's due jobs are counted before
   * they are walked, to stop at the walk's end), counting
   * those that start first and whose row no transaction has written since (`xmax`
   * unset), and keep the checkpoints; `stamp` is the count of jobs that left as read
   * before the walk.
   */
  const read = (queue: string, stamp: number, now: number) =>
    Effect.gen(function*() {
      const cap = sql.lit(QueuePosition.cap)
      const walk = sql.lit(QueuePosition.cap + margin)
      const t = sql`${iso(now)}::timestamptz`
      const rows = yield* run("positionBoundary", sql<{ counted: number; priority: number; run_at_us: string; id: string }>`
        with recursive p (priority, n) as (
          -- the queue's priorities with a claimable job, highest first, one descent of jobs_claim each
          -- (a skip scan: jobs not due yet are not read), and n the due jobs of the higher ones (up to the walk's end)
          (select o.priority, 0::bigint from ${jobs} o where o.queue = ${queue} and o.status in ('pending', 'retrying')
            order by o.priority desc, o.run_at, o.id limit 1)
          union all
          select (select o.priority from ${jobs} o
              where o.queue = ${queue} and o.status in ('pending', 'retrying') and o.priority < p.priority
              order by o.priority desc, o.run_at, o.id limit 1),
            p.n + (select count(*) from (select 1 from ${jobs} o
              where o.queue = ${queue} and o.status in ('pending', 'retrying') and o.priority = p.priority and o.run_at <= ${t}
              order by o.priority desc, o.run_at, o.id limit ${walk} - p.n) c)
          from p where p.priority is not null and p.n < ${walk}
        ), w as materialized (
          -- walked: the place in the walk; before: the group's limited jobs ahead of it in the walk
          select o.id, o.group_key, o.group_limit, o.priority, o.run_at, o.written,
            row_number() over (order by o.priority desc, o.run_at, o.id) as walked,
            row_number() over (partition by o.group_key, o.group_limit is null order by o.priority desc, o.run_at, o.id) - 1
              as before
          from p cross join lateral (
            -- the first claimable due jobs in claim order: per priority, a range that ends at the first job not due
            select o.id, o.group_key, o.group_limit, o.priority, o.run_at, o.xmax <> '0'::xid as written from ${jobs} o
            where o.queue = ${queue} and o.status in ('pending', 'retrying') and o.priority = p.priority
              and o.run_at <= ${t}
            order by o.priority desc, o.run_at, o.id limit ${walk} - p.n
          ) o
          where p.priority is not null and p.n < ${walk}
        ), running as (
          select r.group_key, count(*) as n from ${jobs} r
          where r.status = 'processing'
            and r.group_key in (select w.group_key from w where w.group_key is not null and w.group_limit is not null)
          group by r.group_key
        ), counts as (
          -- no join by id (a nested loop over the walk twice, with an empty table's estimates)
          select w.walked, w.priority, w.run_at, w.id,
            sum(case when w.written then 0 when w.group_key is null or w.group_limit is null
              or w.before + coalesce(running.n, 0) < w.group_limit then 1 else 0 end)
              over (order by w.walked) as counted
          from w left join running on running.group_key = w.group_key
        )
        select counted::int, priority, ${runAtUs(sql`run_at`)} as run_at_us, id::text as id from counts
        where (counted >= ${cap} and (counted - ${cap}) % ${sql.lit(step)} = 0) or walked = (select max(walked) from w)
        order by walked`)
      // the first key of each count past the cap: it has the most jobs behind it
      const checkpoints = rows
        .filter((r, i) => r.counted >= QueuePosition.cap && (i === 0 || r.counted !== rows[i - 1]!.counted))
        .map((r) => ({ priority: r.priority, runAtUs: r.run_at_us, id: r.id, counted: r.counted }))
      if (checkpoints.length === 0) return void failed.set(queue, now)
      failed.delete(queue)
      boundaries.set(queue, { stamp, checkpoints, first: 0 })
      text = undefined
    })

  const after: PositionBoundaries["after"] = (view, now) => {
    seen(view.queue, view.left)
    if (!view.walkedToCap || boundaries.has(view.queue) || reading.has(view.queue)) return Effect.void
    if (now - (failed.get(view.queue) ?? -Infinity) < 1000) return Effect.void
    reading.add(view.queue)
    // best effort: a view never fails for want of a boundary
    return read(view.queue, view.left, now).pipe(Effect.ignore, Effect.ensuring(Effect.sync(() => reading.delete(view.queue))))
  }

  return { bounds, after }
}
