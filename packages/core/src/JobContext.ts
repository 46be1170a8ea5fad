/**
 * What a handler is given besides its payload.
 *
 * @since 0.1.0
 */
import type { Effect } from "effect"

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
   */
  readonly progress: (percent: number, message?: string) => Effect.Effect<void>
  /** Aborted when the attempt is interrupted (cancel, timeout, shutdown, lease lost). */
  readonly signal: AbortSignal
  /**
   * Log a line annotated with the job id, type and attempt (the same as
   * `Effect.log` inside the handler, which is annotated too).
   */
  readonly log: (message: string, fields?: Readonly<Record<string, unknown>>) => Effect.Effect<void>
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
  /** Report progress (0–100, clamped) and an optional human line; coalesced like {@link JobContext.progress}. */
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
}
