/**
 * A job's view: the row and, when pending, its queue position (rule 8),
 * bounded: exact for the first `QueuePosition.cap` places, capped beyond.
 *
 * @since 0.2.0
 */
import { Effect } from "effect"
import { JobId, JobNotFound, QueuePosition } from "@jobtrack/core"
import type { JobStoreShape, JobView, StoreError } from "@jobtrack/core"
import { sql } from "../kyselyModule.js"
import { toRecord } from "../Rows.js"
import type { JobRow } from "../Rows.js"
import { iso, now } from "./Context.js"
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

/**
 * The row and, when pending, its queue position (rule 8), in one call of the
 * `job_view` function (migration 0027; its statements planned once per connection): the
 * row, its steps, and when pending either "behind its queue's boundary"
 * (`PositionBoundary`: past the cap, proved with no walk) or the count of the
 * first `QueuePosition.cap` claimable jobs ahead in claim order (up to
 * `QueuePosition.reach` when jobs of groups without room are among them).
 * So a view costs one round trip whatever the job's place, and a walk costs
 * its rows only, not a plan (planning the walk cost as much as running it).
 *
 * @since 0.2.0
 * @category reads
 */
export const position = (ctx: StoreContext): Pick<JobStoreShape, "view" | "queuePosition"> => {
  const { run } = ctx
  const boundaries = PositionBoundary.make(ctx)
  const jobView = sql.id(ctx.schema, "job_view")
  const view = (id: string): Effect.Effect<JobView, JobNotFound | StoreError> =>
    Effect.gen(function*() {
      if (!JobId.isValid(id)) return yield* new JobNotFound({ id })
      const ms = yield* now
      const t = iso(ms)
      const rows = yield* run("view", sql<ViewRow>`
        select (v.job).*, v.steps, v.departed, v.behind, v.walked, v.counted
        from ${jobView}(${id}::uuid, ${t}::timestamptz, ${boundaries.bounds()}::jsonb) v`)
      if (rows.length === 0) return yield* new JobNotFound({ id })
      const row = rows[0]!
      const record = { ...toRecord(row), steps: Steps.fromViewColumn(row.steps) }
      if (row.status !== "pending" || row.departed === null) return { ...record, ...QueuePosition.fields(null) }
      const place: QueuePosition.QueuePosition = row.behind
        ? { position: QueuePosition.cap + 1, capped: true }
        : fromCounts([row.walked ?? 0, row.counted ?? 0])
      yield* boundaries.after({
        queue: row.queue,
        left: Number(row.departed),
        walkedToCap: !row.behind && (row.counted ?? 0) >= QueuePosition.cap
      }, ms)
      return { ...record, ...QueuePosition.fields(place) }
    })
  return {
    view,
    queuePosition: (id) =>
      Effect.map(view(id), (v) => v.queuePosition === null ? null : { position: v.queuePosition, capped: v.queuePositionCapped })
  }
}

/** A row of `job_view(id, t, bounds)` (migration 0027). */
type ViewRow = JobRow & {
  readonly steps: unknown
  readonly departed: string | null
  readonly behind: boolean | null
  readonly walked: number | null
  readonly counted: number | null
}
