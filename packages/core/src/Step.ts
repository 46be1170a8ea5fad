/**
 * Durable steps: `ctx.step(name, work)` inside a handler runs `work` once per
 * job. Its result is stored when it succeeds, and a later attempt — after a
 * failure, a lost worker or a restart — gets the stored result back without
 * running `work` again, continuing at the first unfinished step. Steps are
 * identified by their name and their place in the sequence: names must be
 * unique within a job, and an attempt whose sequence differs from what an
 * earlier attempt recorded fails instead of mixing results.
 *
 * `ctx.sleep(duration)` is a durable sleep: it ends the attempt, frees the
 * worker slot, and the job is claimed again after the duration (by any
 * process), continuing after the sleep with its completed steps.
 *
 * This module holds the options of a step and its typed errors; the store's
 * part is `StepStore`.
 *
 * @example
 * ```ts
 * handler: ({ mailbox }, ctx) => Effect.gen(function*() {
 *   const ids = yield* ctx.step("fetch", fetchIds(mailbox), { retry: RetryPolicy.fixed("1 second", 3) })
 *   yield* ctx.sleep("10 minutes")            // no worker is held meanwhile
 *   return yield* ctx.step("save", save(ids))
 * })
 * ```
 * @since 0.2.0
 */
import { Data } from "effect"
import type { Duration } from "effect"
import type * as PayloadSchema from "./PayloadSchema.js"
import type * as RetryPolicy from "./RetryPolicy.js"

/**
 * @since 0.2.0
 * @category models
 */
export interface StepOptions {
  /**
   * Validates the result before it is stored and decodes it on replay (an
   * Effect Schema, stored encoded, or any Standard Schema). Without one, the
   * result must be JSON and is replayed as stored.
   */
  readonly schema?: PayloadSchema.PayloadSchema | undefined
  /**
   * Tries of this step within one attempt (default: none, a failed step fails
   * the attempt and the job's own retry policy applies). The worker waits
   * between tries, holding its slot.
   */
  readonly retry?: RetryPolicy.RetryPolicy | undefined
  /** Each try is interrupted after this long and fails with {@link StepTimeout}. */
  readonly timeout?: Duration.Input | undefined
}

/**
 * Two steps of one job have the same name. Fatal: the job fails without retry.
 *
 * @since 0.2.0
 * @category errors
 */
export class DuplicateStepName extends Data.TaggedError("DuplicateStepName")<{ readonly name: string }> {
  readonly fatal = true
  override get message() {
    return `step "${this.name}" is used twice in this job: step names must be unique within a job`
  }
}

/**
 * This attempt's sequence of steps differs from what an earlier attempt
 * recorded (the handler changed, or it chooses its steps from something that
 * changed): at `index`, `recorded` was stored where `requested` runs now.
 * Fatal: results of different sequences are never mixed.
 *
 * @since 0.2.0
 * @category errors
 */
export class StepSequenceChanged extends Data.TaggedError("StepSequenceChanged")<{
  readonly index: number
  readonly recorded: string
  readonly requested: string
}> {
  readonly fatal = true
  override get message() {
    return `the job's steps changed between attempts: step ${this.index + 1} was "${this.recorded}", now "${this.requested}"`
  }
}

/**
 * A step's try ran longer than its `timeout`. Retried by the step's policy,
 * then by the job's.
 *
 * @since 0.2.0
 * @category errors
 */
export class StepTimeout extends Data.TaggedError("StepTimeout")<{ readonly name: string; readonly afterMs: number }> {
  override get message() {
    return `step "${this.name}" timed out after ${this.afterMs} ms`
  }
}

/**
 * A step's name is not 1–200 characters of storable text. Fatal.
 *
 * @since 0.2.0
 * @category errors
 */
export class InvalidStep extends Data.TaggedError("InvalidStep")<{ readonly name: string; readonly problem: string }> {
  readonly fatal = true
  override get message() {
    return `step "${this.name.slice(0, 200)}": ${this.problem}`
  }
}

/**
 * A step's result was larger than the runner's `maxResultBytes` (default
 * 16 MiB), measured as the UTF-8 bytes of its stored JSON, as a job's result
 * is (`ResultTooLarge`). Nothing of it is stored: the step is recorded failed
 * with this message and keeps no result. Fatal: the job fails without another
 * attempt, since the step asked the same thing most often returns the same
 * result. Store large outputs elsewhere and return where they are.
 *
 * @example
 * ```ts
 * new StepResultTooLarge({ name: "fetch", bytes: 2_011, limit: 1_000, exact: false }).message
 * // 'step "fetch": result of at least 2,011 bytes as JSON is over the limit of 1,000 bytes (maxResultBytes)'
 * ```
 * @since 0.2.0
 * @category errors
 */
export class StepResultTooLarge extends Data.TaggedError("StepResultTooLarge")<{
  /** The step's name. */
  readonly name: string
  /** The result's size as JSON in UTF-8 bytes: exact, or a lower bound when `exact` is false. */
  readonly bytes: number
  /** The limit it was over (`RunnerOptions.maxResultBytes`). */
  readonly limit: number
  /** Whether `bytes` is the exact size (false: the result was not serialized, `bytes` is at least its size). */
  readonly exact: boolean
}> {
  readonly fatal = true
  override get message() {
    const n = (x: number) => x.toLocaleString("en-US")
    return `step "${this.name.slice(0, 200)}": result of ${this.exact ? "" : "at least "}${n(this.bytes)} bytes as JSON is over the limit of ${
      n(this.limit)
    } bytes (maxResultBytes)`
  }
}

/**
 * The errors `ctx.step` adds to its work's own.
 *
 * @since 0.2.0
 * @category errors
 */
export type StepError = DuplicateStepName | StepSequenceChanged | StepTimeout | InvalidStep | StepResultTooLarge
