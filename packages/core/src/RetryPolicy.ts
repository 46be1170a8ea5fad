/**
 * When a failed attempt is tried again. A policy is an Effect `Schedule` of
 * delays plus a retry cap; the runner asks it for the delay before retry
 * number n and stores the resulting `nextRetryAt`, so retries survive
 * restarts and run in whichever process claims them.
 *
 * @since 0.1.0
 */
import { Duration, Effect, Option, Pull, Random, Schedule } from "effect"
import { InvalidOptions } from "./JobError.js"
import * as Options from "./internal/options.js"

const orThrow = (c: Options.Checker, of: string): void => {
  if (c.issues.length > 0) throw new InvalidOptions({ of, issues: c.issues })
}

/**
 * @since 0.1.0
 * @category models
 */
export interface RetryPolicy {
  /** Retries after the first attempt; `maxAttempts = maxRetries + 1`. */
  readonly maxRetries: number
  /** Delays between attempts: the n-th output is the delay before retry n. */
  readonly schedule: Schedule.Schedule<unknown>
}

/**
 * Options of {@link exponential}.
 *
 * @since 0.1.0
 * @category models
 */
export interface ExponentialOptions {
  /** Delay before the first retry. */
  readonly initial: Duration.Input
  /** Each delay is the previous one times this (default 2). */
  readonly factor?: number
  /** No delay exceeds this, jitter included. */
  readonly cap?: Duration.Input
  readonly maxRetries: number
  /**
   * Multiply each delay by a random factor in [0.8, 1.2], seeded by job id and
   * attempt. Applied before the cap, so a capped delay never exceeds `cap`.
   */
  readonly jitter?: boolean
}

/**
 * Exponential backoff. The seeds' policy, "30 s, 2 min, 8 min, max 3 retries".
 * Invalid options throw one `InvalidOptions` naming every problem.
 *
 * @example
 * ```ts
 * const policy = RetryPolicy.exponential({ initial: "30 seconds", factor: 4, maxRetries: 3 })
 * ```
 * @since 0.1.0
 * @category constructors
 */
const exponentialNames = Options.names<ExponentialOptions>({ initial: true, factor: true, cap: true, maxRetries: true, jitter: true })

export const exponential = (options: ExponentialOptions): RetryPolicy => {
  const c = Options.checker()
  if (!Options.isRecord(options)) Options.add(c, undefined, `must be an object (got ${Options.show(options)})`)
  else {
    Options.duration(c, "initial", options.initial, { zero: true })
    if (options.factor !== undefined && !(typeof options.factor === "number" && Number.isFinite(options.factor) && options.factor >= 1)) {
      Options.add(c, "factor", `must be a finite number of at least 1 (got ${Options.show(options.factor)})`)
    }
    Options.optionalDuration(c, "cap", options.cap, { zero: true })
    Options.integer(c, "maxRetries", options.maxRetries, 0)
    if (options.jitter !== undefined && typeof options.jitter !== "boolean") {
      Options.add(c, "jitter", `must be a boolean (got ${Options.show(options.jitter)})`)
    }
    Options.unknownKeys(c, options as unknown as Record<string, unknown>, exponentialNames)
  }
  orThrow(c, "RetryPolicy.exponential options")
  let schedule: Schedule.Schedule<unknown> = Schedule.exponential(options.initial, options.factor ?? 2)
  // jitter first, then the cap: the cap bounds the jittered delay
  if (options.jitter) schedule = Schedule.jittered(schedule)
  if (options.cap !== undefined) schedule = Schedule.min([schedule, Schedule.spaced(options.cap)])
  return { maxRetries: options.maxRetries, schedule }
}

/**
 * The same delay before every retry. An invalid delay or count throws one
 * `InvalidOptions` naming both.
 *
 * @example
 * ```ts
 * const policy = RetryPolicy.fixed("100 millis", 5)
 * ```
 * @since 0.1.0
 * @category constructors
 */
export const fixed = (delay: Duration.Input, maxRetries: number): RetryPolicy => {
  const c = Options.checker()
  Options.duration(c, "delay", delay, { zero: true })
  Options.integer(c, "maxRetries", maxRetries, 0)
  orThrow(c, "RetryPolicy.fixed arguments")
  return { maxRetries, schedule: Schedule.spaced(delay) }
}

/**
 * Any Schedule of delays (its outputs are ignored), capped at `maxRetries`.
 * A value that is not a Schedule, or a bad count, throws `InvalidOptions`.
 *
 * @example
 * ```ts
 * const policy = RetryPolicy.fromSchedule(Schedule.fibonacci("1 second"), 5)
 * ```
 * @since 0.1.0
 * @category constructors
 */
export const fromSchedule = (schedule: Schedule.Schedule<unknown>, maxRetries: number): RetryPolicy => {
  const c = Options.checker()
  if (!Schedule.isSchedule(schedule)) Options.add(c, "schedule", `must be an Effect Schedule (got ${Options.show(schedule)})`)
  Options.integer(c, "maxRetries", maxRetries, 0)
  orThrow(c, "RetryPolicy.fromSchedule arguments")
  return { maxRetries, schedule }
}

/**
 * One attempt, no retry.
 *
 * @since 0.1.0
 * @category constructors
 */
export const none: RetryPolicy = { maxRetries: 0, schedule: Schedule.spaced(0) }

/**
 * The default: 3 retries, exponential from 1 s by 4 with jitter, capped at 5 minutes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const defaultPolicy: RetryPolicy = exponential({
  initial: "1 second",
  factor: 4,
  cap: "5 minutes",
  maxRetries: 3,
  jitter: true
})

/**
 * The delay before retry number `retry` (1-based), or none once the policy
 * gives up. Jitter is seeded by `seed`, so the same job and attempt always
 * get the same delay.
 *
 * @since 0.1.0
 * @category combinators
 */
export const delayBefore = (
  policy: RetryPolicy,
  retry: number,
  seed: string
): Effect.Effect<Option.Option<Duration.Duration>> => {
  if (retry < 1 || retry > policy.maxRetries) return Effect.succeedNone
  return Effect.gen(function*() {
    const step = yield* Schedule.toStep(policy.schedule)
    let delay = Duration.zero
    for (let i = 0; i < retry; i++) [, delay] = yield* step(0, undefined)
    return Option.some(Duration.millis(Math.round(Duration.toMillis(delay))))
  }).pipe(
    Pull.catchDone(() => Effect.succeedNone),
    Random.withSeed(seed)
  )
}
