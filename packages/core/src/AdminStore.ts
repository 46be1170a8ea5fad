/**
 * The operator's part of the store contract (rules 16–20, checked by
 * `@jobtrack/core/conformance`): what an admin console needs beyond an owner's
 * view of their jobs. Reads across owners with filters, sorting and keyset
 * pages; counts per queue, type and status that stay cheap on a large table
 * (capped, and labelled so); time series for charts; actions applied by
 * filter in chunks; and an audit trail of who did what.
 *
 * `JobStoreShape` extends {@link AdminStoreShape}: every store serves the
 * console (memory, PGlite, PostgreSQL, anyone's own).
 *
 * @example
 * ```ts
 * const page = yield* store.adminList({ filter: { status: ["failed"], errorContains: "timeout" }, sort: "createdAt", order: "desc", limit: 50 })
 * ```
 * @since 0.2.0
 */
import type { Effect } from "effect"
import type { JobRecord, JobStatus, JobSummary, Json } from "./Job.js"
import type { StoreError } from "./JobError.js"

/**
 * Which jobs, across owners. Every field narrows; an empty filter is every job.
 * Ranges are half-open: `from` inclusive, `to` exclusive.
 *
 * @since 0.2.0
 * @category models
 */
export interface AdminFilter {
  /** Only these ids (a selection in the console; at most 500). */
  readonly ids?: ReadonlyArray<string> | undefined
  /** Only this owner's jobs; `null`: only jobs without an owner. */
  readonly owner?: string | null | undefined
  readonly status?: ReadonlyArray<JobStatus> | undefined
  readonly type?: string | undefined
  readonly queue?: string | undefined
  readonly key?: string | undefined
  readonly createdFrom?: Date | undefined
  readonly createdTo?: Date | undefined
  /** Finished (completed, failed or cancelled) at or after. */
  readonly finishedFrom?: Date | undefined
  readonly finishedTo?: Date | undefined
  /** Case-insensitive text in the last error message. */
  readonly errorContains?: string | undefined
}

/**
 * Sort keys of {@link AdminStoreShape.adminList}. Ties are broken by id.
 * `completedAt` lists finished jobs only (the others have no finish time).
 *
 * @since 0.2.0
 * @category models
 */
export type AdminSort = "createdAt" | "completedAt" | "runAt"

/**
 * Where a page starts: after the job with this sort value and id (the
 * `next` of the previous page).
 *
 * @since 0.2.0
 * @category models
 */
export interface AdminCursor {
  readonly at: Date
  readonly id: string
}

/**
 * @since 0.2.0
 * @category models
 */
export interface AdminListRequest {
  readonly filter: AdminFilter
  readonly sort: AdminSort
  readonly order: "asc" | "desc"
  /** 1–500 (held within). */
  readonly limit: number
  readonly cursor?: AdminCursor | undefined
}

/**
 * A page of the console's list. Items are summaries, like `JobStore.list`'s
 * (since 0.2.0): no `payload`, `result` or `errors`.
 *
 * @since 0.2.0
 * @category models
 */
export interface AdminPage {
  readonly items: ReadonlyArray<JobSummary>
  readonly next: AdminCursor | null
}

/**
 * Jobs per (queue, type, status). A count is exact unless `capped`: then the
 * status has more than `cap` jobs in the filter and the count is a lower bound
 * (the console shows "≥ n"). Capping keeps the query bounded on a large table.
 *
 * @since 0.2.0
 * @category models
 */
export interface StatusCount {
  readonly queue: string
  readonly type: string
  readonly status: JobStatus
  readonly count: number
  readonly capped: boolean
}

/**
 * @since 0.2.0
 * @category models
 */
export interface CountsRequest {
  readonly filter: Pick<AdminFilter, "owner" | "queue" | "type">
  /** Jobs counted per status at most (default 10,000). */
  readonly cap?: number | undefined
}

/**
 * @since 0.2.0
 * @category models
 */
export interface Counts {
  readonly rows: ReadonlyArray<StatusCount>
  readonly cap: number
}

/**
 * The oldest claimable job of a queue: how long the queue has been behind.
 *
 * @since 0.2.0
 * @category models
 */
export interface OldestWaiting {
  readonly queue: string
  /** When it became claimable (its `runAt`). */
  readonly since: Date
  readonly id: string
}

/**
 * Time series over finished jobs, bucketed by finish time.
 *
 * @since 0.2.0
 * @category models
 */
export interface SeriesRequest {
  readonly filter: Pick<AdminFilter, "owner" | "queue" | "type">
  readonly from: Date
  readonly to: Date
  /** Bucket width; the range holds at most 1,440 buckets (held within by widening). */
  readonly bucketMs: number
}

/**
 * One bucket: jobs that finished in `[start, start + bucketMs)`. Durations are
 * `completedAt - startedAt` of the last attempt; queue wait is
 * `startedAt - runAt` (how long the last attempt waited to be claimed).
 * Percentiles are nearest-rank over the values' log-scaled bins
 * (`SeriesHistogram`): the middle of the bin holding the value, within 4.4 %
 * of it, the same on every store.
 *
 * A store may summarize finished minutes (PostgreSQL does, a minute or two
 * after they end): a summarized job stays counted where it finished even if
 * it is later retried, deleted or pruned.
 *
 * @since 0.2.0
 * @category models
 */
export interface SeriesBucket {
  readonly start: Date
  readonly completed: number
  readonly failed: number
  readonly cancelled: number
  readonly durationP50Ms: number | null
  readonly durationP95Ms: number | null
  readonly waitP50Ms: number | null
  readonly waitP95Ms: number | null
  /**
   * Set (to `true`) when the bucket counts only some of the jobs that finished
   * in it: the store's summary does not reach it yet and the store read only a
   * bounded number of jobs directly (PostgreSQL, while its summary catches up
   * after an upgrade or a pause; the newest jobs are counted first). A later
   * read counts them all. Absent on a complete bucket; MemoryStore never sets it.
   */
  readonly partial?: true
}

/**
 * One step of {@link AdminStoreShape.summarizeSeries}.
 *
 * @since 0.2.0
 * @category models
 */
export interface SeriesSummaryStep {
  /** Finished jobs this step summarized (0 when another process holds the summary, or nothing was due). */
  readonly jobs: number
  /** More is due now: call again without waiting. */
  readonly more: boolean
}

/**
 * An action on jobs. Each applies only where it is valid and skips the rest:
 * retry — failed/cancelled (not while another live job has its key, rule 2);
 * cancel — pending/retrying become cancelled, processing gets a cancel request;
 * delete — anything not processing; runNow — pending/retrying not yet due become claimable
 * now (a job already due keeps its place in the claim order: skipped, not announced);
 * setPriority — pending/retrying.
 *
 * @since 0.2.0
 * @category models
 */
export type AdminAction =
  | { readonly _tag: "retry" }
  | { readonly _tag: "cancel" }
  | { readonly _tag: "delete" }
  | { readonly _tag: "runNow" }
  | { readonly _tag: "setPriority"; readonly priority: number }

/**
 * One chunk of an action by filter: the next `limit` matching jobs in id
 * order after `after`.
 *
 * @since 0.2.0
 * @category models
 */
export interface BulkChunkRequest {
  readonly action: AdminAction
  readonly filter: AdminFilter
  /** The `last` of the previous chunk; null at the start. */
  readonly after: string | null
  /** 1–5,000 (held within). */
  readonly limit: number
}

/**
 * @since 0.2.0
 * @category models
 */
export interface BulkChunkResult {
  /** Jobs the action changed. */
  readonly applied: number
  /** Jobs matching the filter in this chunk that the action could not change. */
  readonly skipped: number
  /** The last id examined: pass it as `after`; null when nothing is left. */
  readonly last: string | null
}

/**
 * An entry of the audit trail: who did what, to which jobs, how many, when.
 *
 * @since 0.2.0
 * @category models
 */
export interface AuditEntry {
  readonly id: string
  readonly at: Date
  readonly actor: string
  /** e.g. "retry", "bulk.cancel", "bulk.cancel.done". */
  readonly action: string
  /** What it applied to: `{ ids }`, a filter, … as JSON. */
  readonly target: Json
  /** How many jobs it changed; null while unknown (a bulk action just requested). */
  readonly count: number | null
  /** The bulk job carrying it out, if any. */
  readonly jobId: string | null
}

/**
 * @since 0.2.0
 * @category models
 */
export type NewAuditEntry = Omit<AuditEntry, "id" | "at">

/**
 * @since 0.2.0
 * @category models
 */
export interface AuditPage {
  readonly items: ReadonlyArray<AuditEntry>
  /** Pass as `before` for the next (older) page. */
  readonly next: string | null
}

/**
 * The admin verbs every store implements.
 *
 * @since 0.2.0
 * @category models
 */
export interface AdminStoreShape {
  /** Rule 16: jobs across owners matching the filter, sorted, a keyset page at a time (summaries). */
  readonly adminList: (request: AdminListRequest) => Effect.Effect<AdminPage, StoreError>
  /** Rule 17: jobs per (queue, type, status), each status counted up to the cap. */
  readonly adminCounts: (request: CountsRequest) => Effect.Effect<Counts, StoreError>
  /** Rule 17: per queue, the claimable job waiting longest (none for queues with nothing claimable). */
  readonly oldestWaiting: (
    filter: Pick<AdminFilter, "owner" | "queue" | "type">
  ) => Effect.Effect<ReadonlyArray<OldestWaiting>, StoreError>
  /** Rule 18: every bucket of the range, oldest first, empty ones included. */
  readonly series: (request: SeriesRequest) => Effect.Effect<ReadonlyArray<SeriesBucket>, StoreError>
  /**
   * For a store that summarizes finished jobs for {@link series} (PostgreSQL
   * does; a store that bins its jobs at each read has no such verb): summarize
   * one bounded chunk of what is due, if no other process is at it. Runners
   * call it in the background (`RunnerOptions.seriesSummary`), so that no chart
   * read waits for a summary.
   *
   * @example
   * ```ts
   * if (store.summarizeSeries) {
   *   let step = yield* store.summarizeSeries()
   *   while (step.more) step = yield* store.summarizeSeries()
   * }
   * ```
   */
  readonly summarizeSeries?: (() => Effect.Effect<SeriesSummaryStep, StoreError>) | undefined
  /** Rule 19: apply an action to the next chunk of matching jobs; each job changes in one conditional write. */
  readonly bulkChunk: (request: BulkChunkRequest) => Effect.Effect<BulkChunkResult, StoreError>
  /** Rule 20: append to the audit trail. */
  readonly recordAudit: (entry: NewAuditEntry) => Effect.Effect<AuditEntry, StoreError>
  /** Rule 20: the audit trail, newest first. `limit` 1–500. */
  readonly listAudit: (request: {
    readonly limit: number
    readonly before?: string | undefined
  }) => Effect.Effect<AuditPage, StoreError>
}

/**
 * The most ids a filter may name.
 *
 * @since 0.2.0
 * @category constants
 */
export const maxIds = 500

/**
 * The widest series: buckets per request.
 *
 * @since 0.2.0
 * @category constants
 */
export const maxBuckets = 1_440

/**
 * The bucket width a store uses: `bucketMs` (at least 1 s) widened until the
 * range holds at most {@link maxBuckets}.
 *
 * @since 0.2.0
 * @category helpers
 */
export const bucketWidth = (request: Pick<SeriesRequest, "from" | "to" | "bucketMs">): number => {
  const span = Math.max(0, request.to.getTime() - request.from.getTime())
  const width = Math.max(1_000, Math.floor(request.bucketMs))
  return Math.max(width, Math.ceil(span / maxBuckets))
}

/**
 * The statuses an action applies to.
 *
 * @since 0.2.0
 * @category helpers
 */
export const appliesTo = (action: AdminAction): ReadonlyArray<JobStatus> => {
  switch (action._tag) {
    case "retry":
      return ["failed", "cancelled"]
    case "cancel":
      return ["pending", "retrying", "processing"]
    case "delete":
      return ["pending", "retrying", "completed", "failed", "cancelled"]
    case "runNow":
    case "setPriority":
      return ["pending", "retrying"]
  }
}

/**
 * Whether a record matches a filter: the reference semantics stores follow
 * (MemoryStore uses it as is).
 *
 * @since 0.2.0
 * @category predicates
 */
export const matches = (filter: AdminFilter, job: JobRecord): boolean => {
  const t = (d: Date | null) => (d === null ? null : d.getTime())
  const finished = t(job.completedAt)
  return (filter.ids === undefined || filter.ids.includes(job.id)) &&
    (filter.owner === undefined || job.owner === filter.owner) &&
    (filter.status === undefined || filter.status.includes(job.status)) &&
    (filter.type === undefined || job.type === filter.type) &&
    (filter.queue === undefined || job.queue === filter.queue) &&
    (filter.key === undefined || job.key === filter.key) &&
    (filter.createdFrom === undefined || job.createdAt.getTime() >= filter.createdFrom.getTime()) &&
    (filter.createdTo === undefined || job.createdAt.getTime() < filter.createdTo.getTime()) &&
    (filter.finishedFrom === undefined || (finished !== null && finished >= filter.finishedFrom.getTime())) &&
    (filter.finishedTo === undefined || (finished !== null && finished < filter.finishedTo.getTime())) &&
    (filter.errorContains === undefined ||
      (job.errorMessage !== null && job.errorMessage.toLowerCase().includes(filter.errorContains.toLowerCase())))
}
