/**
 * The store contract for durable steps and durable sleep (part of
 * {@link JobStoreShape}, which extends it). A job's steps are rows keyed by
 * (job, name), each with its place in the job's sequence: the runner records
 * a step's start, its JSON result and its failures, and a later attempt reads
 * them back to skip what already succeeded. Every write is a holder's write,
 * fenced by the lease like `progress` and `complete`: a worker whose lease
 * moved on cannot record a step (rule 21). A durable sleep ends the attempt
 * in one write: the job goes back to pending at the wake time, the attempt not
 * counted, and the sleep is recorded as a completed step (rule 22). Steps are
 * kept by a manual retry and removed with their job (delete, prune).
 *
 * @since 0.2.0
 */
import type { Effect } from "effect"
import type { JobRecord, Json, Lease } from "./Job.js"
import type { LeaseLost, StoreError } from "./JobError.js"

/**
 * `running` from its start until it succeeds (`completed`) or fails
 * (`failed`, retried by a later try or attempt).
 *
 * @since 0.2.0
 * @category models
 */
export type StepStatus = "running" | "completed" | "failed"

/**
 * A step as readers see it (in the job view): no result.
 *
 * @since 0.2.0
 * @category models
 */
export interface StepInfo {
  readonly name: string
  /** 0-based place in the job's sequence of steps. */
  readonly index: number
  readonly status: StepStatus
  /** Tries started so far, over every attempt of the job. */
  readonly attempts: number
  /** The last failure's text, until the step succeeds. */
  readonly error: string | null
  /** When its latest try started. */
  readonly startedAt: Date | null
  readonly completedAt: Date | null
}

/**
 * A step as stored.
 *
 * @since 0.2.0
 * @category models
 */
export interface StepRecord extends StepInfo {
  readonly jobId: string
  /** The encoded (JSON) result once completed; null before. */
  readonly result: Json | null
}

/**
 * Which step a write is about.
 *
 * @since 0.2.0
 * @category models
 */
export interface StepKey {
  readonly name: string
  readonly index: number
}

/**
 * The step verbs every store implements.
 *
 * @example
 * ```ts
 * const steps = yield* store.steps(job.id)   // in index order
 * yield* store.stepStarted(lease, { name: "fetch", index: 0 })
 * yield* store.stepCompleted(lease, { name: "fetch", index: 0 }, { messages: 12 })
 * ```
 * @since 0.2.0
 * @category models
 */
export interface StepStoreShape {
  /** The job's steps in index order (none for an unknown job). */
  readonly steps: (jobId: string) => Effect.Effect<ReadonlyArray<StepRecord>, StoreError>
  /** A try of the step starts: `running`, one more attempt. Fenced (rule 21). */
  readonly stepStarted: (lease: Lease, step: StepKey) => Effect.Effect<StepRecord, LeaseLost | StoreError>
  /** The step succeeded with this (encoded) result. Fenced (rule 21). */
  readonly stepCompleted: (lease: Lease, step: StepKey, result: Json) => Effect.Effect<StepRecord, LeaseLost | StoreError>
  /** The step's try failed with this text. Fenced (rule 21). */
  readonly stepFailed: (lease: Lease, step: StepKey, message: string) => Effect.Effect<StepRecord, LeaseLost | StoreError>
  /**
   * Durable sleep (rule 22), one write: processing → pending with `runAt =
   * until`, the attempt not counted, the lease released, and `step` recorded
   * as completed (so the next attempt does not sleep again). A job whose cancel
   * was requested becomes cancelled instead. Fenced.
   */
  readonly sleep: (lease: Lease, step: StepKey, until: Date) => Effect.Effect<JobRecord, LeaseLost | StoreError>
}
