/**
 * The store contract's attempt logs: the lines a handler writes with
 * `ctx.log`, kept with the job (per attempt) so the job view and the HTTP
 * status show them. `JobStore` extends this interface.
 *
 * Bounded: the runner keeps at most {@link maxLinesPerAttempt} lines of at
 * most {@link maxLineLength} characters per attempt (a last line says how
 * many were dropped), and a store keeps at most {@link maxLinesPerJob} lines
 * per job, dropping the oldest. Lines go when the job is deleted or pruned.
 *
 * @since 0.2.0
 */
import type { Effect } from "effect"
import type { Lease } from "./Job.js"
import type { JobNotFound, LeaseLost, StoreError } from "./JobError.js"

/**
 * @since 0.2.0
 * @category models
 */
export type LogLevel = "debug" | "info" | "warning" | "error"

/**
 * One kept line.
 *
 * @since 0.2.0
 * @category models
 */
export interface LogLine {
  /** The attempt that wrote it (1 for the first). */
  readonly attempt: number
  readonly at: Date
  readonly level: LogLevel
  readonly message: string
  /** The structured fields given with it (JSON). */
  readonly fields: Readonly<Record<string, unknown>> | null
}

/**
 * Lines kept per attempt by the runner.
 *
 * @since 0.2.0
 * @category constants
 */
export const maxLinesPerAttempt = 200

/**
 * Characters kept per line (message and fields as JSON, each).
 *
 * @since 0.2.0
 * @category constants
 */
export const maxLineLength = 2000

/**
 * Lines a store keeps per job, across attempts (the newest).
 *
 * @since 0.2.0
 * @category constants
 */
export const maxLinesPerJob = 1000

/**
 * @example
 * ```ts
 * const lines = yield* store.logs(jobId)   // oldest first, every attempt
 * ```
 * @since 0.2.0
 * @category models
 */
export interface JobLogStoreShape {
  /**
   * Append lines of the held attempt, in order. Fenced like progress: only
   * the current holder of a processing job writes (else `LeaseLost`).
   */
  readonly appendLogs: (lease: Lease, lines: ReadonlyArray<LogLine>) => Effect.Effect<void, LeaseLost | StoreError>
  /** A job's kept lines, oldest first (at most {@link maxLinesPerJob}, the newest). */
  readonly logs: (id: string) => Effect.Effect<ReadonlyArray<LogLine>, JobNotFound | StoreError>
}
