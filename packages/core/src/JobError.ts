/**
 * The typed errors of jobtrack. Every one is a tagged class, so callers
 * branch on `_tag` (or `Effect.catchTag`), never on message text.
 *
 * @since 0.1.0
 */
import { Data } from "effect"
import type { JobStatus } from "./Job.js"

/**
 * No job has this id (or it was deleted or pruned).
 *
 * @example
 * ```ts
 * tracker.get(id).pipe(Effect.catchTag("JobNotFound", () => Effect.succeed(null)))
 * ```
 * @since 0.1.0
 * @category errors
 */
export class JobNotFound extends Data.TaggedError("JobNotFound")<{ readonly id: string }> {
  override get message() {
    return `job ${this.id} not found`
  }
}

/**
 * The state machine refuses this action in the job's current status.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidTransition extends Data.TaggedError("InvalidTransition")<{
  readonly id: string
  readonly action: "cancel" | "retry" | "delete"
  readonly status: JobStatus
}> {
  override get message() {
    return `cannot ${this.action} job ${this.id}: it is ${this.status}`
  }
}

/**
 * One problem found in an input, with where it is.
 *
 * @since 0.1.0
 * @category errors
 */
export interface Issue {
  readonly path: ReadonlyArray<string | number>
  readonly message: string
}

/**
 * A payload or an enqueue option did not validate. Lists every problem;
 * nothing was stored.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidInput extends Data.TaggedError("InvalidInput")<{
  readonly type: string
  readonly issues: ReadonlyArray<Issue>
}> {
  override get message() {
    const lines = this.issues.map((i) => `${i.path.length ? i.path.join(".") : "(root)"}: ${i.message}`)
    return `invalid input for job type "${this.type}": ${lines.join("; ")}`
  }
}

/**
 * No definition is registered for this job type.
 *
 * @since 0.1.0
 * @category errors
 */
export class UnknownJobType extends Data.TaggedError("UnknownJobType")<{ readonly type: string }> {
  override get message() {
    return `no job definition for type "${this.type}"`
  }
}

/**
 * A write from a holder whose lease is no longer current (the job was
 * reclaimed, cancelled, deleted, or already settled). The write did nothing.
 *
 * @since 0.1.0
 * @category errors
 */
export class LeaseLost extends Data.TaggedError("LeaseLost")<{ readonly id: string; readonly token: number }> {
  override get message() {
    return `lease on job ${this.id} (token ${this.token}) is no longer held`
  }
}

/**
 * What a store failure means:
 * - `"unavailable"`: the store cannot be reached or cannot serve now (connection
 *   lost, too many connections, shutting down, a serialization failure…); the
 *   same call may succeed later. Over HTTP: 503.
 * - `"rejected"`: the store refused the data (a value it cannot hold, a
 *   constraint); the same call fails again. Over HTTP: 400.
 * - `"internal"`: anything else (a missing table, a bug). Over HTTP: 500.
 *
 * @since 0.1.0
 * @category errors
 */
export type StoreFailure = "unavailable" | "rejected" | "internal"

/**
 * The store could not be reached or failed. `retryable` says whether the same
 * call may succeed later (connection lost, serialization failure…); `kind`
 * what the failure means (see {@link StoreFailure}; read it through
 * `failure`, which defaults it from `retryable`).
 *
 * @example
 * ```ts
 * new StoreError({ reason: "insert failed (22P05)", retryable: false, kind: "rejected" }).failure // "rejected"
 * ```
 * @since 0.1.0
 * @category errors
 */
export class StoreError extends Data.TaggedError("StoreError")<{
  readonly reason: string
  readonly retryable: boolean
  readonly kind?: StoreFailure | undefined
  readonly cause?: unknown
}> {
  override get message() {
    return `store error: ${this.reason}`
  }
  /** `kind`, or when a store did not say: "unavailable" if retryable, else "internal". */
  get failure(): StoreFailure {
    return this.kind ?? (this.retryable ? "unavailable" : "internal")
  }
}

/**
 * Fail a handler with this to stop retrying: the job goes straight to
 * `failed`, whatever attempts are left.
 *
 * @example
 * ```ts
 * if (!account) return yield* new FatalError({ message: "mailbox not connected" })
 * ```
 * @since 0.1.0
 * @category errors
 */
export class FatalError extends Data.TaggedError("FatalError")<{ readonly message: string; readonly cause?: unknown }> {}

/**
 * Whether a failure stops retrying: a {@link FatalError} (also one thrown by
 * an async handler, or from inside `Effect.promise`), or any error marked
 * fatal with a `fatal: true` property, as errors from other libraries can be.
 *
 * @example
 * ```ts
 * class NotConnected extends Error { readonly fatal = true }
 * isFatal(new NotConnected("mailbox not connected"))  // true
 * ```
 * @since 0.2.0
 * @category guards
 */
export const isFatal = (u: unknown): boolean =>
  u instanceof FatalError ||
  (typeof u === "object" && u !== null &&
    (("_tag" in u && u._tag === "FatalError") || ("fatal" in u && u.fatal === true)))

/**
 * A handler ran longer than its definition's timeout. Counts as a failed
 * attempt and is retried like any other error.
 *
 * @since 0.1.0
 * @category errors
 */
export class JobTimeout extends Data.TaggedError("JobTimeout")<{ readonly afterMs: number }> {
  override get message() {
    return `timed out after ${this.afterMs} ms`
  }
}

/**
 * A handler's result was larger than the runner's limit
 * (`RunnerOptions.maxResultBytes`, default 16 MiB), measured as the UTF-8
 * bytes of its JSON text. The attempt fails and nothing of the result is
 * stored; the failure is fatal (`fatal: true`): the job fails without
 * another attempt, since a handler asked the same thing most often returns
 * the same result. Store large outputs elsewhere (a file, an object store)
 * and return where they are.
 *
 * @example
 * ```ts
 * new ResultTooLarge({ bytes: 209_715_202, limit: 16_777_216, exact: false }).message
 * // "result of at least 209,715,202 bytes as JSON is over the limit of 16,777,216 bytes (maxResultBytes)"
 * ```
 * @since 0.2.0
 * @category errors
 */
export class ResultTooLarge extends Data.TaggedError("ResultTooLarge")<{
  /** The result's size as JSON in UTF-8 bytes: exact, or a lower bound when `exact` is false. */
  readonly bytes: number
  /** The limit it was over. */
  readonly limit: number
  /** Whether `bytes` is the exact size (false: the result was not serialized, `bytes` is at least its size). */
  readonly exact: boolean
}> {
  /** Not retried: see {@link isFatal}. */
  readonly fatal = true
  override get message() {
    const n = (x: number) => x.toLocaleString("en-US")
    return `result of ${this.exact ? "" : "at least "}${n(this.bytes)} bytes as JSON is over the limit of ${n(this.limit)} bytes (maxResultBytes)`
  }
}

/**
 * Options given to a constructor (`Jobtrack.make`, `Runner.layer`,
 * `HookDelivery.make`, `JobDefinition.make`, the `RetryPolicy` constructors)
 * are not valid. Lists every problem, each with the option's path; nothing
 * was started. Thrown by the synchronous constructors; the error of the
 * Effect ones.
 *
 * @example
 * ```ts
 * try {
 *   Jobtrack.make({ store: MemoryStore.layer, definitions, runner: { concurrency: 0, lease: "soon" } })
 * } catch (e) {
 *   if (e instanceof InvalidOptions) console.error(e.message)
 *   // invalid Jobtrack options: runner.concurrency: must be an integer of at least 1 (got 0); runner.lease: …
 * }
 * ```
 * @since 0.2.0
 * @category errors
 */
export class InvalidOptions extends Data.TaggedError("InvalidOptions")<{
  /** What the options were for, e.g. `Runner options` or `job definition "send-email"`. */
  readonly of: string
  readonly issues: ReadonlyArray<Issue>
}> {
  override get message() {
    const lines = this.issues.map((i) => `${i.path.length ? i.path.join(".") : "(root)"}: ${i.message}`)
    return `invalid ${this.of}: ${lines.join("; ")}`
  }
}
