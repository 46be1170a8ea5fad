/**
 * The job view on the wire: snake_case, ISO-8601 UTC times, `result` only
 * when completed (and only in a single job's view: never in list items).
 *
 * @since 0.1.0
 */
import type { JobStatus, JobSummaryView, JobView, Json, LogLine, StepInfo, StepStatus } from "@jobtrack/core"

/**
 * One durable step of the job (see `ctx.step`), in order.
 *
 * @since 0.2.0
 * @category models
 */
export interface WireStep {
  readonly name: string
  readonly status: StepStatus
  /** Tries started so far, over every attempt of the job. */
  readonly attempts: number
  readonly started_at: string | null
  readonly completed_at: string | null
}

/**
 * @since 0.1.0
 * @category models
 */
export interface WireView {
  readonly id: string
  readonly type: string
  readonly status: JobStatus
  readonly progress: number
  readonly progress_message: string | null
  readonly error_message: string | null
  readonly attempts: number
  readonly max_attempts: number
  /** 1 = next to run, while pending; null otherwise. A lower bound when `queue_position_capped`. */
  readonly queue_position: number | null
  /**
   * The position was not counted past 1,000 places: the job has more than
   * `queue_position - 1` jobs ahead ("more than 1,000"). False when exact or null.
   */
  readonly queue_position_capped: boolean
  /** A cancel was asked for while the job runs; it is being stopped (status becomes `cancelled`). */
  readonly cancel_requested: boolean
  readonly next_retry_at: string | null
  readonly created_at: string
  readonly started_at: string | null
  readonly completed_at: string | null
  readonly key: string | null
  /** The job's durable steps in order (`GET /:id` and its events; not in list pages). */
  readonly steps?: ReadonlyArray<WireStep>
  /**
   * What the handler returned, once completed: in a single job's view
   * (`GET /:id`, its events, the answers of enqueue, cancel, retry); never
   * in list items, which stay small whatever the jobs' results (since 0.2.0).
   */
  readonly result?: Json
}

/**
 * A line an attempt wrote with `ctx.log` (in `GET /:id` as `logs`, oldest first).
 *
 * @since 0.2.0
 * @category models
 */
export interface WireLogLine {
  readonly attempt: number
  readonly at: string
  readonly level: LogLine["level"]
  readonly message: string
  readonly fields: Readonly<Record<string, unknown>> | null
}

/**
 * @since 0.2.0
 * @category constructors
 */
export const fromLogLine = (line: LogLine): WireLogLine => ({
  attempt: line.attempt,
  at: line.at.toISOString(),
  level: line.level,
  message: line.message,
  fields: line.fields
})

const iso = (d: Date | null) => (d === null ? null : d.toISOString())

const wireStep = (s: StepInfo): WireStep => ({
  name: s.name,
  status: s.status,
  attempts: s.attempts,
  started_at: iso(s.startedAt),
  completed_at: iso(s.completedAt)
})

/**
 * @since 0.1.0
 * @category constructors
 */
export const fromView = (job: JobView): WireView => ({
  ...fromSummary(job),
  ...(job.steps === undefined ? {} : { steps: job.steps.map(wireStep) }),
  ...(job.status === "completed" ? { result: job.result } : {})
})

/** The fields a list item and a single job's view share (only these: never a blob). */
const fromSummary = (job: JobSummaryView): WireView => ({
  id: job.id,
  type: job.type,
  status: job.status,
  progress: job.progress,
  progress_message: job.progressMessage,
  error_message: job.errorMessage,
  attempts: job.attempts,
  max_attempts: job.maxAttempts,
  queue_position: job.queuePosition,
  queue_position_capped: job.queuePositionCapped,
  cancel_requested: job.cancelRequested,
  next_retry_at: iso(job.nextRetryAt),
  created_at: job.createdAt.toISOString(),
  started_at: iso(job.startedAt),
  completed_at: iso(job.completedAt),
  key: job.key
})

/**
 * A job as a list item: its view without `result` (nor `steps`), so a page
 * of 500 jobs stays small whatever their results; `GET /:id` has them.
 *
 * @example
 * ```ts
 * import { WireView } from "@jobtrack/adapter-koa"
 * const item = WireView.listItem(job) // no `result`
 * ```
 * @since 0.2.0
 * @category constructors
 */
export const listItem = (job: JobSummaryView): WireView => fromSummary(job)
