/**
 * What a handler is given besides its payload.
 *
 * @since 0.1.0
 */
import type { Duration, Effect } from "effect"
import type { StoreError } from "./JobError.js"
import type { StepError, StepOptions } from "./Step.js"

/**
 * @example
 * ```ts
 * handler: (payload, ctx) => Effect.gen(function*() {
 *   yield* ctx.progress(10, "Fetching messages…")
 *   const res = yield* Effect.promise(() => fetch(url, { signal: ctx.signal }))
 *   yield* Effect.log("fetched")   // annotated with jobId, type and attempt
 * })
 * ```
 * @since 0.1.0
 * @category models
 */
export interface JobContext {
  readonly id: string
  readonly type: string
  /** 1 for the first attempt. */
  readonly attempt: number
  readonly maxAttempts: number
  readonly owner: string | null
  readonly key: string | null
  /**
   * Report progress (0–100, clamped) and an optional human line. Cheap to call
   * in a tight loop: writes are coalesced and the last value is always stored.
   * The line is kept to its first 1,024 characters (an ellipsis marks a cut).
   */
  readonly progress: (percent: number, message?: string) => Effect.Effect<void>
  /** Aborted when the attempt is interrupted (cancel, timeout, shutdown, lease lost). */
  readonly signal: AbortSignal
  /**
   * Log a line annotated with the job id, type and attempt (the same as
   * `Effect.log` inside the handler, which is annotated too).
   */
  readonly log: (message: string, fields?: Readonly<Record<string, unknown>>) => Effect.Effect<void>
  /**
   * A durable step (see `Step`): runs `work` once per job and stores its
   * result; a later attempt gets the stored result back without running it.
   * Names are unique within a job.
   *
   * @example
   * ```ts
   * const messages = yield* ctx.step("fetch", fetchMessages(mailbox), { timeout: "30 seconds" })
   * ```
   */
  readonly step: <A, E, R>(
    name: string,
    work: Effect.Effect<A, E, R>,
    options?: StepOptions
  ) => Effect.Effect<A, E | StepError | StoreError, R>
  /**
   * A durable sleep: ends this attempt without failing it, frees the worker,
   * and the job resumes after `duration` (in any process), past this sleep,
   * with its completed steps. Code after it runs in the next attempt.
   */
  readonly sleep: (duration: Duration.Input) => Effect.Effect<void>
}

/**
 * What an async handler (`run`) is given besides its payload: the same as
 * {@link JobContext}, with Promise-returning methods.
 *
 * @example
 * ```ts
 * run: async (payload, ctx) => {
 *   await ctx.progress(10, "Fetching messages…")
 *   const res = await fetch(url, { signal: ctx.signal })  // aborted on cancel, timeout, shutdown
 *   ctx.log("fetched", { status: res.status })
 *   return { ok: res.ok }
 * }
 * ```
 * @since 0.2.0
 * @category models
 */
export interface AsyncJobContext {
  readonly id: string
  readonly type: string
  /** 1 for the first attempt. */
  readonly attempt: number
  readonly maxAttempts: number
  readonly owner: string | null
  readonly key: string | null
  /** Report progress (0–100, clamped) and an optional human line (kept to 1,024 characters); coalesced like {@link JobContext.progress}. */
  readonly progress: (percent: number, message?: string) => Promise<void>
  /**
   * Aborted when the attempt is interrupted (cancel, timeout, shutdown, lease
   * lost). Pass it to `fetch`, `Command.runPromise`, database drivers…: once it
   * is aborted the attempt's outcome is already decided, whatever the handler
   * does next.
   */
  readonly signal: AbortSignal
  /** Log a line annotated with the job id, type and attempt, through the runner's logger. */
  readonly log: (message: string, fields?: Readonly<Record<string, unknown>>) => void
  /**
   * A durable step, like {@link JobContext.step}: `work` runs once per job and
   * its result is stored; a later attempt gets it back without running `work`.
   * Rejects with what `work` threw (after the step's own retries), or with a
   * `StepError`.
   *
   * @example
   * ```ts
   * const ids = await ctx.step("fetch", () => fetchIds(mailbox, { signal: ctx.signal }))
   * ```
   */
  readonly step: <A>(name: string, work: () => Promise<A> | A, options?: StepOptions) => Promise<A>
  /**
   * A durable sleep, like {@link JobContext.sleep}: ends this attempt and
   * resumes the job after `duration`. The returned promise rejects with a
   * marker the runner recognises: let it propagate (do not catch it).
   */
  readonly sleep: (duration: Duration.Input) => Promise<void>
}
