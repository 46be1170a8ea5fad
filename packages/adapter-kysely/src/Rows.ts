/**
 * Rows of the jobs table and their mapping to core's `JobRecord`.
 *
 * @since 0.1.0
 */
import type { AttemptError, JobRecord, JobStatus, JobSummary, Json } from "@jobtrack/core"

/**
 * A row as the drivers (pg, PGlite) return it.
 *
 * @since 0.1.0
 * @category models
 */
export interface JobRow {
  readonly id: string
  readonly type: string
  readonly queue: string
  readonly payload: Json
  readonly result: Json | null
  readonly status: JobStatus
  readonly progress: number
  readonly progress_message: string | null
  readonly error_message: string | null
  readonly errors: ReadonlyArray<{
    readonly attempt: number
    readonly message: string
    readonly at: string
    /** Since issue 15; null or absent on older entries. */
    readonly startedAt?: string | null
    readonly worker?: string | null
    readonly stack?: string | null
  }>
  readonly attempts: number
  readonly max_attempts: number
  readonly priority: number
  readonly run_at: Date
  readonly owner: string | null
  readonly key: string | null
  readonly group_key: string | null
  readonly group_limit: number | null
  readonly locked_by: string | null
  readonly locked_until: Date | null
  readonly token: number
  readonly cancel_requested: boolean
  readonly created_at: Date
  readonly started_at: Date | null
  readonly completed_at: Date | null
  readonly next_retry_at: Date | null
  readonly updated_at: Date
  /** Migration 0005. */
  readonly traceparent?: string | null
}

/**
 * Every column of a {@link JobRow}, in the table's order: the select list of
 * the store's prepared reads and writes of whole rows. A prepared `select *`
 * or `returning *` would fail on connections that prepared it before a
 * migration added a column ("cached plan must not change result type").
 *
 * @since 0.2.0
 * @category constants
 */
export const jobColumnNames: ReadonlyArray<keyof JobRow & string> = [
  "id", "type", "queue", "payload", "result", "status", "progress", "progress_message", "error_message", "errors",
  "attempts", "max_attempts", "priority", "run_at", "owner", "key", "group_key", "group_limit", "locked_by",
  "locked_until", "token", "cancel_requested", "created_at", "started_at", "completed_at", "next_retry_at",
  "updated_at", "traceparent"
]

/**
 * {@link jobColumnNames} as a select list.
 *
 * @since 0.2.0
 * @category constants
 */
export const jobColumns = jobColumnNames.join(", ")

/** @internal */
export const date = (d: Date | string | null): Date | null => (d === null ? null : d instanceof Date ? d : new Date(d))

/** The errors of a job with none (a claimed job's, nearly always): shared, never written to. */
const noErrors: ReadonlyArray<AttemptError> = Object.freeze([])

const attemptError = (e: JobRow["errors"][number]): AttemptError => ({
  attempt: e.attempt,
  message: e.message,
  at: new Date(e.at),
  ...(e.startedAt == null ? {} : { startedAt: new Date(e.startedAt) }),
  ...(e.worker == null ? {} : { worker: e.worker }),
  ...(e.stack == null ? {} : { stack: e.stack })
})

/**
 * A row's `errors` as the record's: the shared empty list when there are none.
 *
 * @internal
 */
export const errorsOf = (errors: JobRow["errors"]): ReadonlyArray<AttemptError> =>
  errors.length === 0 ? noErrors : errors.map(attemptError)

/**
 * @since 0.1.0
 * @category constructors
 */
export const toRecord = (row: JobRow): JobRecord => ({
  ...toSummary(row),
  payload: row.payload,
  result: row.result,
  errors: errorsOf(row.errors)
})

/**
 * A row of a list page: every column but the blobs (`payload`, `result`, `errors`).
 *
 * @since 0.2.0
 * @category models
 */
export interface SummaryRow extends Omit<JobRow, "payload" | "result" | "errors"> {}

/**
 * The columns of a {@link SummaryRow}, qualified by `alias` when given: the
 * select list of list pages (`list`, `adminList`), which never read a job's
 * payload, result or errors (a page of 500 jobs with 1 MiB results read 500
 * MiB through the driver before).
 *
 * @example
 * ```ts
 * sql`select ${summaryColumns("j")} from jobs j`
 * ```
 * @since 0.2.0
 * @category constants
 */
export const summaryColumns = (alias?: string): string =>
  jobColumnNames.filter((c) => c !== "payload" && c !== "result" && c !== "errors")
    .map((c) => (alias === undefined ? c : `${alias}.${c}`)).join(", ")

/**
 * @since 0.2.0
 * @category constructors
 */
export const toSummary = (row: SummaryRow): JobSummary => ({
  id: row.id,
  type: row.type,
  queue: row.queue,
  status: row.status,
  progress: Number(row.progress),
  progressMessage: row.progress_message,
  errorMessage: row.error_message,
  attempts: row.attempts,
  maxAttempts: row.max_attempts,
  priority: row.priority,
  runAt: date(row.run_at)!,
  owner: row.owner,
  key: row.key,
  groupKey: row.group_key,
  groupLimit: row.group_limit,
  lockedBy: row.locked_by,
  lockedUntil: date(row.locked_until),
  token: Number(row.token),
  cancelRequested: row.cancel_requested,
  createdAt: date(row.created_at)!,
  startedAt: date(row.started_at),
  completedAt: date(row.completed_at),
  nextRetryAt: date(row.next_retry_at),
  updatedAt: date(row.updated_at)!,
  traceparent: row.traceparent ?? null
})
