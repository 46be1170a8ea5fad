/**
 * A job's view: the row and, when pending, its queue position (rule 8),
 * bounded: exact for the first `QueuePosition.cap` places, capped beyond.
 *
 * @since 0.2.0
 */
import { Effect } from "effect"
import { JobId, JobNotFound, QueuePosition } from "@jobtrack/core"
import type { JobStoreShape, JobView, StoreError } from "@jobtrack/core"
import { jobColumns, toRecord } from "../Rows.js"
import type { JobRow } from "../Rows.js"
import { iso, now, preparedText, qualified } from "./Context.js"
import type { StoreContext } from "./Context.js"
import * as PositionBoundary from "./PositionBoundary.js"
import * as Steps from "./Steps.js"

/** The position from a walk's `[walked, counted]`, as `QueuePosition.fromWalk` counts. */
const fromCounts = (counts: ReadonlyArray<number>): QueuePosition.QueuePosition => {
  const [walked, counted] = counts as [number, number]
  return counted >= QueuePosition.cap
    ? { position: QueuePosition.cap + 1, capped: true }
    : { position: counted + 1, capped: walked >= QueuePosition.reach }
}

/** The position of a pending job's row: proved past the cap by the boundary, or counted. */
const placeOf = (row: ViewRow): QueuePosition.QueuePosition =>
  row.behind
    ? { position: QueuePosition.cap + 1, capped: true }
    : fromCounts([row.walked ?? 0, row.counted ?? 0])

/**
 * The row and, when pending, its queue position (rule 8), in one statement,
 * `select … from job_view5(id, t, bounds)` (migration 0041, a SQL function
 * the planner inlines): the row's columns, its steps, and when pending either
 * "behind its queue's boundary" (`PositionBoundary`: past the cap, proved
 * with no walk, in the statement itself) or the count of the first
 * `QueuePosition.cap` claimable jobs ahead in claim order by
 * `position_place`, read from the claim index alone (up to
 * `QueuePosition.reach` when jobs of groups without room are among them). So
 * a view costs one round trip whatever the job's place, a view that counts
 * nothing (a job not pending, or behind the boundary) costs one statement
 * and no function call, and a walk costs its rows only (one index descent
 * per distinct higher priority, not the jobs of higher priorities not due
 * yet, in the group-aware count too), not a plan (planning the walk cost as
 * much as running it). The statement's text is fixed and sent with
 * `StoreContext.send` (on `postgres()`'s pool, straight to the pool: no
 * Kysely template built and compiled per call), as a named prepared
 * statement (`Prepared.ts`): parsed once per connection; it names the
 * function's columns (`jobColumns`, then the view's), which no migration
 * redefines (a later one adds a new function, as 0023, 0027, 0029, 0035,
 * 0038, 0040 and 0041 did).
 *
 * @since 0.2.0
 * @category reads
 */
export const position = (ctx: StoreContext): Pick<JobStoreShape, "view" | "queuePosition"> => {
  const boundaries = PositionBoundary.make(ctx)
  /** The function's columns, named (a prepared statement's rule, `Prepared.ts`): the job's, then the view's. */
  const text = preparedText(
    `select ${jobColumns}, steps, departed, behind, walked, counted from ${qualified(ctx.schema, "job_view5")}` +
      `($1::uuid, $2::timestamptz, $3::jsonb)`
  )
  /** The view of a row of `job_view5`: one object, built once; a pending job's place, and its boundary's upkeep. */
  const toView = (row: ViewRow, ms: number): Effect.Effect<JobView> => {
    const view = toRecord(row) as Mutable<JobView>
    view.steps = Steps.fromViewColumn(row.steps)
    if (row.status !== "pending" || row.departed === null) {
      view.queuePosition = null
      view.queuePositionCapped = false
      return Effect.succeed(view)
    }
    const place = placeOf(row)
    view.queuePosition = place.position
    view.queuePositionCapped = place.capped
    const after = boundaries.after({
      queue: row.queue,
      left: Number(row.departed),
      walkedToCap: !row.behind && (row.counted ?? 0) >= QueuePosition.cap
    }, ms)
    return after === Effect.void ? Effect.succeed(view) : Effect.as(after, view)
  }
  const read = (id: string, ms: number): Effect.Effect<JobView, JobNotFound | StoreError> =>
    Effect.flatMap(
      ctx.send<ViewRow>("view", text, [id, iso(ms), boundaries.bounds()]),
      (rows) => rows.length === 0 ? Effect.fail(new JobNotFound({ id })) : toView(rows[0]!, ms)
    )
  const view = (id: string): Effect.Effect<JobView, JobNotFound | StoreError> =>
    JobId.isValid(id) ? Effect.flatMap(now, (ms) => read(id, ms)) : Effect.fail(new JobNotFound({ id }))
  return {
    view,
    queuePosition: (id) =>
      Effect.map(view(id), (v) => v.queuePosition === null ? null : { position: v.queuePosition, capped: v.queuePositionCapped })
  }
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

/** A row of `job_view5(id, t, bounds)` (migration 0041; the columns of 0029's `job_view_flat`). */
type ViewRow = JobRow & {
  readonly steps: unknown
  readonly departed: string | null
  readonly behind: boolean | null
  readonly walked: number | null
  readonly counted: number | null
}
