/**
 * The store contract: where jobs live and every state transition happens.
 * Each write is one conditional step checking the current status (and, for a
 * holder's writes, the fencing token), so a stale worker can never overwrite
 * a newer state. Times come from Effect's `Clock`, so tests drive them with
 * `TestClock`.
 *
 * Core ships {@link MemoryStore}; `@jobtrack/adapter-kysely` ships PostgreSQL.
 * `@jobtrack/core/conformance` checks any implementation against the contract;
 * its numbered rules (1–11, cited below) are listed in docs/writing-a-store.md.
 *
 * @since 0.1.0
 */
import { Context } from "effect"
import type { Effect, Layer, Scope, Stream } from "effect"
import type { JobRecord, JobStatus, JobSummary, JobView, Json, Lease, NewJob } from "./Job.js"
import type { InvalidTransition, JobNotFound, LeaseLost, StoreError } from "./JobError.js"
import type { AdminStoreShape } from "./AdminStore.js"
import type { StepStoreShape } from "./StepStore.js"
import type { JobLogStoreShape } from "./JobLogStore.js"
import type { ScheduleStoreShape } from "./ScheduleStore.js"
import type { HookSubscriptionStoreShape } from "./HookSubscriptionStore.js"
import type { QueueChanged, StatusFeedStoreShape } from "./StatusFeedStore.js"
import type { QueuePosition } from "./QueuePosition.js"

/**
 * The outcome of an enqueue: the job, and whether it was created (false when
 * a non-terminal job with the same type, owner and key already existed).
 *
 * @since 0.1.0
 * @category models
 */
export interface Enqueued {
  readonly job: JobRecord
  readonly created: boolean
}

/**
 * @since 0.1.0
 * @category models
 */
export interface ClaimRequest {
  readonly queues: ReadonlyArray<string>
  /** Only jobs of these types (the ones the claiming runner has definitions for). */
  readonly types: ReadonlyArray<string>
  readonly workerId: string
  /** At most this many jobs. */
  readonly limit: number
  readonly leaseMs: number
}

/**
 * The outcome of `completeMany`.
 *
 * @since 0.1.0
 * @category models
 */
export interface CompletedMany {
  /** The ids of the jobs completed (only ids: the runner needs no more, and rows cost parsing per job). */
  readonly completed: ReadonlyArray<string>
  readonly refused: ReadonlyArray<Lease>
}

/**
 * A failed attempt, as the runner reports it.
 *
 * @since 0.1.0
 * @category models
 */
export interface FailRequest extends Lease {
  readonly message: string
  /**
   * The thrown error's stack (storable text, a few KB at most), kept in the
   * attempt's `errors` entry for the operator console; optional, so a store may ignore it.
   */
  readonly stack?: string
  /** When to try again; null when no attempt is left or the error is fatal. */
  readonly retryAt: Date | null
}

/**
 * @since 0.1.0
 * @category models
 */
export interface ListFilter {
  /** Only this owner's jobs; `null`: only jobs without an owner. */
  readonly owner?: string | null | undefined
  readonly status?: ReadonlyArray<JobStatus> | undefined
  readonly type?: string | undefined
  readonly key?: string | undefined
  readonly queue?: string | undefined
  /**
   * Leave this queue's jobs out, in the query itself, so a page stays full
   * (the jobs API leaves out the console's queue, `jobtrack.console`).
   *
   * @since 0.2.0
   */
  readonly excludeQueue?: string | undefined
  /** 1–500, default 50. */
  readonly limit?: number | undefined
  /** `nextCursor` of the previous page. */
  readonly cursor?: string | undefined
}

/**
 * A page of jobs, newest first. Items are summaries: no `payload`, `result`
 * or `errors` (since 0.2.0; a store reads only the columns it returns), so
 * a page's size does not grow with the jobs' blobs. `get` has the job whole.
 *
 * @since 0.1.0
 * @category models
 */
export interface Page {
  readonly items: ReadonlyArray<JobSummary>
  readonly nextCursor: string | null
}

/**
 * @since 0.1.0
 * @category models
 */
export interface StatsFilter {
  /** Only this owner's jobs; `null`: only jobs without an owner. */
  readonly owner?: string | null | undefined
  readonly type?: string | undefined
  /**
   * Leave this queue's jobs out of every count.
   *
   * @since 0.2.0
   */
  readonly excludeQueue?: string | undefined
}

/**
 * Durations (startedAt → completedAt of completed jobs) in milliseconds.
 *
 * @since 0.1.0
 * @category models
 */
export interface DurationStats {
  readonly count: number
  readonly meanMs: number | null
  readonly p50Ms: number | null
  readonly p95Ms: number | null
}

/**
 * @since 0.1.0
 * @category models
 */
export interface TypeStats {
  readonly type: string
  readonly counts: Readonly<Record<JobStatus, number>>
  /** completed / (completed + failed); null when neither. */
  readonly successRate: number | null
  readonly durations: DurationStats
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Stats {
  readonly counts: Readonly<Record<JobStatus, number>>
  readonly successRate: number | null
  readonly durations: DurationStats
  readonly byType: ReadonlyArray<TypeStats>
}

/**
 * A change a store announces (rule 11): a job's change, a coarse change of a
 * queue while a feed is open (rule F1, {@link StatusFeedStoreShape}), or a resync.
 *
 * @since 0.1.0
 * @category models
 */
export type JobChange = JobChanged | QueueChanged | ChangesResync

/**
 * One job changed.
 *
 * @since 0.1.0
 * @category models
 */
export interface JobChanged {
  readonly id: string
  readonly type: string
  readonly queue: string
  /** `hook`: a hook delivery was recorded for the job (rule 12); `status` is its event. */
  readonly kind: "enqueued" | "progress" | "status" | "cancelRequested" | "deleted" | "hook"
  readonly status: JobStatus
}

/**
 * Changes may have been missed (e.g. the store's listening connection was
 * lost and is back): whoever holds state derived from changes re-reads it
 * now. Runners re-check their jobs' cancel requests and look for new jobs;
 * watchers re-read their job.
 *
 * @since 0.1.0
 * @category models
 */
export interface ChangesResync {
  readonly kind: "resync"
}

/**
 * The terminal statuses a hook delivery is recorded for.
 *
 * @since 0.1.0
 * @category models
 */
export type HookEvent = "completed" | "failed" | "cancelled"

/**
 * A pending call of a lifecycle hook (rules 12–15): recorded by the store in
 * the same write as the transition into a terminal status, claimed with a
 * lease by any process that has the hook, deleted once delivered, `dead`
 * after the last failed attempt.
 *
 * @since 0.1.0
 * @category models
 */
export interface HookDelivery {
  /** Stable across attempts: hooks use it (or `jobId` + `event`) to drop repeats. */
  readonly id: string
  readonly jobId: string
  readonly type: string
  readonly event: HookEvent
  /** The job as the transition left it. */
  readonly job: JobRecord
  /** `delivering` while a process holds it; `dead` once retries are exhausted. */
  readonly status: "pending" | "delivering" | "dead"
  /** Delivery attempts started so far. */
  readonly attempts: number
  /** Fencing token, bumped at each claim. */
  readonly token: number
  readonly lockedBy: string | null
  /** When it may be claimed: the next attempt (pending) or the lease's end (delivering). */
  readonly availableAt: Date
  readonly lastError: string | null
  readonly createdAt: Date
}

/**
 * @since 0.1.0
 * @category models
 */
export interface DeliveryClaim {
  /** Only deliveries of these job types… */
  readonly types: ReadonlyArray<string>
  /** …and these events (the hooks the claiming process has). */
  readonly events: ReadonlyArray<HookEvent>
  readonly workerId: string
  readonly limit: number
  readonly leaseMs: number
}

/**
 * A failed delivery attempt, as the delivering process reports it.
 *
 * @since 0.1.0
 * @category models
 */
export interface DeliveryFailure extends Lease {
  readonly message: string
  /** When to try again; null: no attempt left, the delivery is dead. */
  readonly retryAt: Date | null
}

/**
 * @since 0.1.0
 * @category models
 */
export interface DeliveryFilter {
  readonly jobId?: string | undefined
  readonly status?: ReadonlyArray<HookDelivery["status"]> | undefined
  /** 1–500, default 100. */
  readonly limit?: number | undefined
}

/**
 * The interface every store implements. Method names are noun-free verbs on
 * jobs; each takes plain values and returns an Effect. The operator's verbs
 * (rules 16–20) are in {@link AdminStoreShape}, in their own module; the
 * schedule verbs (rules S1–S3) in {@link ScheduleStoreShape}.
 *
 * @since 0.1.0
 * @category models
 */
export interface JobStoreShape
  extends
    AdminStoreShape,
    StepStoreShape,
    JobLogStoreShape,
    ScheduleStoreShape,
    HookSubscriptionStoreShape,
    StatusFeedStoreShape
{
  /**
   * Insert a job, or return the non-terminal job of the same type, owner and key
   * (rule 1, 2): key dedupe is per owner (jobs without one count as one owner),
   * never answering with another owner's job.
   */
  readonly enqueue: (job: NewJob) => Effect.Effect<Enqueued, StoreError>
  /** Insert a batch in one round trip, same dedupe rule per item, results in input order. */
  readonly enqueueMany: (jobs: ReadonlyArray<NewJob>) => Effect.Effect<ReadonlyArray<Enqueued>, StoreError>
  readonly get: (id: string) => Effect.Effect<JobRecord, JobNotFound | StoreError>
  /** The newest job of this type with this key, terminal or not. */
  readonly findByKey: (type: string, key: string) => Effect.Effect<JobRecord, JobNotFound | StoreError>
  /**
   * Claim up to `limit` claimable jobs in claim order, honouring group limits,
   * moving each to processing with a new fencing token and a lease.
   */
  readonly claim: (request: ClaimRequest) => Effect.Effect<ReadonlyArray<JobRecord>, StoreError>
  /**
   * Extend a held lease. Tells the holder whether a cancel was requested.
   */
  readonly heartbeat: (
    lease: Lease,
    leaseMs: number
  ) => Effect.Effect<{ readonly cancelRequested: boolean }, LeaseLost | StoreError>
  readonly progress: (
    lease: Lease,
    progress: number,
    message: string | null
  ) => Effect.Effect<void, LeaseLost | StoreError>
  readonly complete: (lease: Lease, result: Json) => Effect.Effect<JobRecord, LeaseLost | StoreError>
  /**
   * Complete several jobs in one write (the runner batches completions that
   * finish together). Each item is fenced on its own: the ones whose lease is
   * no longer held come back in `refused`, untouched.
   */
  readonly completeMany: (
    items: ReadonlyArray<{ readonly lease: Lease; readonly result: Json }>
  ) => Effect.Effect<CompletedMany, StoreError>
  /** processing → retrying (retryAt set) or failed (retryAt null); the error is appended. */
  readonly fail: (request: FailRequest) => Effect.Effect<JobRecord, LeaseLost | StoreError>
  /** processing (cancel requested or not) → cancelled, by the holder after it stopped the handler. */
  readonly cancelled: (lease: Lease) => Effect.Effect<JobRecord, LeaseLost | StoreError>
  /** processing → pending, the attempt not counted (graceful shutdown). */
  readonly release: (lease: Lease) => Effect.Effect<JobRecord, LeaseLost | StoreError>
  /**
   * Processing jobs whose lease expired before now → retrying at once (attempts
   * left) or failed, with the error "worker lost". Returns the jobs moved.
   */
  readonly recoverExpired: () => Effect.Effect<ReadonlyArray<JobRecord>, StoreError>
  /** pending/retrying → cancelled; processing → cancel requested; else InvalidTransition. */
  readonly cancel: (id: string) => Effect.Effect<JobRecord, JobNotFound | InvalidTransition | StoreError>
  /**
   * failed/cancelled → pending with attempts reset and errors kept; else
   * InvalidTransition — also while another non-terminal job has its key (rule 2).
   */
  readonly retry: (id: string) => Effect.Effect<JobRecord, JobNotFound | InvalidTransition | StoreError>
  /** Any status but processing. */
  readonly delete: (id: string) => Effect.Effect<void, JobNotFound | InvalidTransition | StoreError>
  /**
   * A page of summaries, newest first (rule 10): never the jobs' payloads,
   * results or errors, which a store does not read for a page.
   */
  readonly list: (filter: ListFilter) => Effect.Effect<Page, StoreError>
  /**
   * Rule 8: 1 + the claimable jobs of its queue that start before it (another
   * group's job ahead counts only while its group has room); null unless pending.
   * Bounded: exact for the first `QueuePosition.cap` places, capped beyond
   * (`QueuePosition.fromWalk` is the count over the claim order).
   */
  readonly queuePosition: (id: string) => Effect.Effect<QueuePosition | null, JobNotFound | StoreError>
  /** The job, its queue position and its steps, read together (one round trip where the store can). */
  readonly view: (id: string) => Effect.Effect<JobView, JobNotFound | StoreError>
  readonly stats: (filter: StatsFilter) => Effect.Effect<Stats, StoreError>
  /**
   * Delete terminal jobs completed strictly before `before`, and hook
   * deliveries recorded strictly before it (dead, or for hooks no process has);
   * returns how many jobs.
   */
  readonly prune: (before: Date) => Effect.Effect<number, StoreError>
  /**
   * Claim up to `limit` hook deliveries of the given types and events whose
   * `availableAt` has come (pending, or delivering with an expired lease),
   * oldest first: each becomes `delivering` with a new token, one more attempt
   * and a lease (rule 13).
   */
  readonly claimDeliveries: (request: DeliveryClaim) => Effect.Effect<ReadonlyArray<HookDelivery>, StoreError>
  /** The hook ran: delete the delivery. Fenced like a job's lease (rule 14). */
  readonly deliveryDone: (lease: Lease) => Effect.Effect<void, LeaseLost | StoreError>
  /** The hook failed: pending again at `retryAt`, or dead (rule 14). */
  readonly deliveryFailed: (failure: DeliveryFailure) => Effect.Effect<HookDelivery, LeaseLost | StoreError>
  /** Deliveries not yet made (or dead), oldest first. */
  readonly listDeliveries: (filter: DeliveryFilter) => Effect.Effect<ReadonlyArray<HookDelivery>, StoreError>
  /**
   * Changes as they happen, from every process sharing the store where the
   * store can tell. Best effort: readers poll as a fallback. Enqueues, cancel
   * requests and deletions are always announced; progress and status changes
   * at least for jobs someone is {@link JobStoreShape.watching | watching}.
   * A store that can lose announcements (a dropped connection) emits a
   * `resync` once it can hear again. A store may listen only while someone
   * subscribes: a subscription is open once `Stream.toPull` returns (read
   * the state you track after that, not before).
   */
  readonly changes: Stream.Stream<JobChange>
  /**
   * Declare interest in a job's progress and status changes while the scope is
   * open (a store may skip announcing them for jobs nobody watches: each
   * announcement has a cost, e.g. PostgreSQL's NOTIFY serializes commits).
   */
  readonly watching: (id: string) => Effect.Effect<void, StoreError, Scope.Scope>
}

/**
 * The caller's own transaction, for stores that can join it (rule 1): an
 * opaque handle the store recognises (adapter-kysely: a Kysely transaction).
 * The tracker provides it from `EnqueueOptions.transaction`.
 *
 * @since 0.1.0
 * @category services
 */
export const Transaction = Context.Reference<unknown>("@jobtrack/core/JobStore/Transaction", {
  defaultValue: () => undefined
})

/**
 * A store layer that says which transactions its store can join: `Trx` types
 * `EnqueueOptions.transaction` of the `Jobtrack` made with it (adapter-kysely:
 * the host's Kysely `Transaction`). A plain `Layer<JobStore>` joins none
 * (`never`), so passing a transaction to it does not compile.
 *
 * @example
 * ```ts
 * const store: StoreLayer<Transaction<Database>> = KyselyStore.layer({ db })
 * ```
 * @since 0.1.0
 * @category models
 */
export interface StoreLayer<Trx, E = StoreError> extends Layer.Layer<JobStore, E> {
  /** Type-level only: never set. */
  readonly "~jobtrack/Transaction"?: Trx | undefined
}

/**
 * The store service.
 *
 * @example
 * ```ts
 * const program = Effect.gen(function*() {
 *   const store = yield* JobStore
 *   return yield* store.get(id)
 * }).pipe(Effect.provide(MemoryStore.layer))
 * ```
 * @since 0.1.0
 * @category services
 */
export class JobStore extends Context.Service<JobStore, JobStoreShape>()("@jobtrack/core/JobStore") {}
