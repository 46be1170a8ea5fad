/**
 * A job's view: the row and, when pending, its queue position (rule 8),
 * bounded: exact for the first `QueuePosition.cap` places, capped beyond.
 *
 * @since 0.2.0
 */
import { Effect } from "effect"
import { JobId, JobNotFound, QueuePosition } from "@jobtrack/core"
import type { JobStoreShape, JobView, StoreError } from "@jobtrack/core"
import { jobColumnNames, toRecord } from "../Rows.js"
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

/** The position of a pending job's row: proved past the cap by the boundary (no count), or counted. */
const placeOf = (row: ViewRow): QueuePosition.QueuePosition =>
  row.place === null
    ? { position: QueuePosition.cap + 1, capped: true }
    : fromCounts(row.place)

/**
 * The view's statement (`$1` the id, `$2` the time, `$3` the boundaries):
 * the job's columns, `steps`, `departed` and `place`, from the job's row
 * alone. No subquery and no join: each one is set up at every execution
 * whether or not it runs, which is what a view cost more than a get (0041's
 * `job_view5`, inlined, had the steps' subquery and a lateral join of three
 * nodes). So the steps are read by `job_steps_of` (migration 0042) only for
 * a job whose token is not 0 (one never claimed has none: a step is written
 * under a lease only); `departed`, the count of jobs that left
 * (`claimable_left`), is read for a pending job only; and `position_place`
 * (0041) counts only for a pending job that its queue's boundary does not
 * prove past the cap. The proof reads the count of jobs that left itself
 * (the second read of the sequence, at most a later value than `departed`'s:
 * each proof checks the count it read; `departed` only drops expired
 * checkpoints and stamps a new boundary, for which any count seen during
 * the statement is one that had been reached), as `job_view5` proved it:
 * the job after the checkpoint's claim key (priority desc, run_at in µs,
 * id), and no more jobs left than the checkpoint allows. `place` is null for
 * a pending job so proved, and `[walked, counted]` for one counted.
 */
const statement = (schema: string): string => {
  const sequence = qualified(schema, "claimable_left").replaceAll("'", "''")
  const departed = `coalesce(pg_sequence_last_value('${sequence}'::regclass), 0)`
  const bound = (i: number) => `($3::jsonb -> x.queue ->> ${i})`
  const behind = `coalesce(${departed} <= ${bound(3)}::bigint
      and row(-x.priority::bigint, (extract(epoch from x.run_at) * 1000000)::bigint, x.id)
        > row(-${bound(0)}::bigint, ${bound(1)}::bigint, ${bound(2)}::uuid), false)`
  return `select ${jobColumnNames.map((c) => `x.${c}`).join(", ")},
    case when x.token <> 0 then ${qualified(schema, "job_steps_of")}(x.id) end as steps,
    case when x.status = 'pending' then ${departed} end as departed,
    case when x.status = 'pending' and not ${behind}
      then ${qualified(schema, "position_place")}(x.queue, x.priority, x.run_at, x.id, x.group_key, $2::timestamptz)
    end as place
    from ${qualified(schema, "jobs")} x where x.id = $1::uuid`
}

/**
 * The row and, when pending, its queue position (rule 8), in one statement
 * (`statement`, migrations 0041 and 0042): the row's columns, its steps, and
 * when pending either "behind its queue's boundary" (`PositionBoundary`:
 * past the cap, proved with no walk, in the statement itself) or the count
 * of the first `QueuePosition.cap` claimable jobs ahead in claim order by
 * `position_place`, read from the claim index alone (up to
 * `QueuePosition.reach` when jobs of groups without room are among them). So
 * a view costs one round trip whatever the job's place, a view that counts
 * nothing (a job not pending, or behind the boundary) costs the get's read of
 * the row and a few expressions (and, for a job once claimed, the steps'
 * function), and a walk costs its rows only (one index descent per distinct
 * higher priority, not the jobs of higher priorities not due yet, in the
 * group-aware count too), not a plan (planning the walk cost as much as
 * running it). The statement's text is fixed and sent with
 * `StoreContext.send` (on `postgres()`'s pool, straight to the pool: no
 * Kysely template built and compiled per call), as a named prepared
 * statement (`Prepared.ts`): parsed once per connection; it names the
 * table's columns (`jobColumnNames`) and functions that no migration
 * redefines (a later one adds a new function, as 0023, 0027, 0029, 0035,
 * 0038, 0040, 0041 and 0042 did).
 *
 * @since 0.2.0
 * @category reads
 */
export const position = (ctx: StoreContext): Pick<JobStoreShape, "view" | "queuePosition"> => {
  const boundaries = PositionBoundary.make(ctx)
  const text = preparedText(statement(ctx.schema))
  /** The view of a row of the statement: one object, built once; a pending job's place, and its boundary's upkeep. */
  const toView = (row: ViewRow, ms: number): Effect.Effect<JobView> => {
    const view = toRecord(row) as Mutable<JobView>
    view.steps = row.steps === null ? noSteps : Steps.fromViewColumn(row.steps)
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
      walkedToCap: row.place !== null && row.place[1]! >= QueuePosition.cap
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

/** The steps of a job never claimed: none (shared, never written to). */
const noSteps: JobView["steps"] = Object.freeze([])

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

/** A row of the view's `statement`: the job's columns, then its steps, the count of jobs that left, and its place. */
type ViewRow = JobRow & {
  /** Null for a job never claimed (token 0): no steps. */
  readonly steps: unknown
  /** Null unless pending. */
  readonly departed: string | null
  /** `[walked, counted]` of a pending job counted; null for one behind its queue's boundary, or not pending. */
  readonly place: ReadonlyArray<number> | null
}
