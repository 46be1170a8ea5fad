/**
 * The job record: what a store keeps for every job, and the view that readers
 * (the tracker, the HTTP router, the terminal demo) are given.
 *
 * @since 0.1.0
 */
import type { StepInfo } from "./StepStore.js"

/**
 * The six states of a job. See `docs/concepts.md` for the state machine.
 *
 * @since 0.1.0
 * @category models
 */
export type JobStatus = "pending" | "processing" | "retrying" | "completed" | "failed" | "cancelled"

/**
 * Every status, in lifecycle order.
 *
 * @since 0.1.0
 * @category models
 */
export const statuses: ReadonlyArray<JobStatus> = [
  "pending",
  "processing",
  "retrying",
  "completed",
  "failed",
  "cancelled"
]

/**
 * Statuses a job never leaves by itself (a manual retry moves failed and
 * cancelled jobs back to pending).
 *
 * @since 0.1.0
 * @category predicates
 */
export const isTerminal = (status: JobStatus): boolean =>
  status === "completed" || status === "failed" || status === "cancelled"

/**
 * JSON as stored: payloads and results are kept in their encoded form.
 *
 * @since 0.1.0
 * @category models
 */
export type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [key: string]: Json }

/**
 * One failed attempt.
 *
 * @since 0.1.0
 * @category models
 */
export interface AttemptError {
  readonly attempt: number
  readonly message: string
  /** When the attempt ended (failed or its lease was found expired). */
  readonly at: Date
  /** When the attempt started; absent on entries written before it was recorded. */
  readonly startedAt?: Date
  /** The worker that held the attempt; absent on entries written before it was recorded. */
  readonly worker?: string
  /** The thrown error's stack, when there was one (operator console only: it names paths). */
  readonly stack?: string
}

/**
 * A job as stored.
 *
 * @since 0.1.0
 * @category models
 */
export interface JobRecord {
  readonly id: string
  readonly type: string
  readonly queue: string
  readonly payload: Json
  readonly result: Json | null
  readonly status: JobStatus
  readonly progress: number
  readonly progressMessage: string | null
  readonly errorMessage: string | null
  readonly errors: ReadonlyArray<AttemptError>
  readonly attempts: number
  readonly maxAttempts: number
  readonly priority: number
  readonly runAt: Date
  readonly owner: string | null
  readonly key: string | null
  readonly groupKey: string | null
  readonly groupLimit: number | null
  readonly lockedBy: string | null
  readonly lockedUntil: Date | null
  /**
   * Changed at each claim (by the SQL store at random, so a claim lost in a
   * database crash never reissues it); writes from a holder carry it and are
   * refused once it moved on.
   */
  readonly token: number
  readonly cancelRequested: boolean
  readonly createdAt: Date
  readonly startedAt: Date | null
  readonly completedAt: Date | null
  readonly nextRetryAt: Date | null
  readonly updatedAt: Date
  /**
   * The W3C `traceparent` of the span that enqueued the job (see `Telemetry`):
   * each attempt's span joins that trace, in whatever process runs it.
   * Absent or null when the job was enqueued outside a traced span.
   */
  readonly traceparent?: string | null | undefined
}

/**
 * A job as shown to readers: the record plus its queue position (and its
 * steps, when read with them).
 *
 * @since 0.1.0
 * @category models
 */
export interface JobView extends JobRecord {
  /**
   * 1-based place in its queue's claim order while pending; null otherwise.
   * Exact for the first 1,000 places; beyond, `queuePositionCapped` says so
   * (see `QueuePosition`).
   */
  readonly queuePosition: number | null
  /**
   * The position is a lower bound: the job has more than `queuePosition - 1`
   * jobs ahead (usually "more than 1,000"), not counted further. False when
   * the position is exact or null.
   */
  readonly queuePositionCapped: boolean
  /**
   * The job's durable steps in order (see `ctx.step`), when the view was read
   * with them: `get`, `watch` and the HTTP status have them; list pages do not.
   */
  readonly steps?: ReadonlyArray<StepInfo> | undefined
}

/**
 * The fields of a job that a list page carries: the record without its
 * per-job blobs (`payload`, `result`, `errors`), so a page of 500 jobs stays
 * small whatever their payloads and results. `JobStore.list` and
 * `AdminStore.adminList` return these (since 0.2.0); `get` has the job whole.
 *
 * @example
 * ```ts
 * const page = yield* store.list({ owner: "ann", limit: 500 })
 * const full = yield* store.get(page.items[0]!.id) // payload, result, errors
 * ```
 * @since 0.2.0
 * @category models
 */
export interface JobSummary extends Omit<JobRecord, "payload" | "result" | "errors"> {}

/**
 * The names of the fields a {@link JobSummary} leaves out.
 *
 * @since 0.2.0
 * @category constants
 */
export const blobFields = ["payload", "result", "errors"] as const

/**
 * A record (or a summary that a store read whole) as a {@link JobSummary}:
 * a copy without `payload`, `result` and `errors`.
 *
 * @example
 * ```ts
 * const item = Job.summary(record) // "payload" in item === false
 * ```
 * @since 0.2.0
 * @category constructors
 */
export const summary = (job: JobSummary): JobSummary => {
  const { errors: _e, payload: _p, result: _r, ...rest } = job as JobSummary & Partial<Pick<JobRecord, typeof blobFields[number]>>
  return rest
}

/**
 * A list item as shown to readers: a {@link JobSummary} plus its queue
 * position (`Tracker.list`, `jobs.list()`). Read the job with `get` for its
 * payload, result, errors and steps.
 *
 * @since 0.2.0
 * @category models
 */
export interface JobSummaryView extends JobSummary {
  /** As {@link JobView.queuePosition}. */
  readonly queuePosition: number | null
  /** As {@link JobView.queuePositionCapped}. */
  readonly queuePositionCapped: boolean
}

/**
 * What a store needs to insert a job. Built by the tracker from a definition
 * and a decoded payload; a store never sees an unvalidated payload.
 *
 * @since 0.1.0
 * @category models
 */
export interface NewJob {
  readonly id: string
  readonly type: string
  readonly queue: string
  readonly payload: Json
  readonly maxAttempts: number
  readonly priority: number
  readonly runAt: Date
  readonly owner: string | null
  readonly key: string | null
  readonly groupKey: string | null
  readonly groupLimit: number | null
  /** The W3C `traceparent` of the enqueuing span, stored with the job (see `Telemetry`). */
  readonly traceparent?: string | null | undefined
}

/**
 * The record of a job just enqueued at `at`: pending, no attempt, no lease.
 * Stores use it so that every store starts a job the same way.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromNew = (job: NewJob, at: Date): JobRecord => ({
  ...job,
  result: null,
  status: "pending",
  progress: 0,
  progressMessage: null,
  errorMessage: null,
  errors: [],
  attempts: 0,
  lockedBy: null,
  lockedUntil: null,
  token: 0,
  cancelRequested: false,
  createdAt: at,
  startedAt: null,
  completedAt: null,
  nextRetryAt: null,
  updatedAt: at
})

/**
 * The holder's proof of a claim: writes carry it and are refused once the
 * job was claimed again.
 *
 * @since 0.1.0
 * @category models
 */
export interface Lease {
  readonly id: string
  readonly token: number
}

/**
 * Claim order: priority desc, runAt asc, id asc. Negative when `a` is claimed first.
 *
 * @since 0.1.0
 * @category ordering
 */
export const claimOrder = (
  a: Pick<JobRecord, "priority" | "runAt" | "id">,
  b: Pick<JobRecord, "priority" | "runAt" | "id">
): number =>
  b.priority - a.priority ||
  a.runAt.getTime() - b.runAt.getTime() ||
  (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)

/**
 * Whether a job can be claimed at `now` by status and time (group limits aside).
 *
 * @since 0.1.0
 * @category predicates
 */
export const isClaimable = (job: Pick<JobRecord, "status" | "runAt">, now: number): boolean =>
  (job.status === "pending" || job.status === "retrying") && job.runAt.getTime() <= now
