/**
 * Retrying a settling write (complete, fail, cancelled, release) while the
 * store says the failure is retryable (connection lost…).
 *
 * @internal
 */
import { Effect, Schedule } from "effect"
import type { LeaseLost, StoreError } from "../../JobError.js"
import * as RetryPolicy from "../../RetryPolicy.js"

const storeBackoff = RetryPolicy.exponential({ initial: "100 millis", factor: 2, cap: "5 seconds", maxRetries: 0 })

/** The retry schedule of a write given up after about `maxMs` (one per lease length in use). */
const schedules = new Map<number, Schedule.Schedule<unknown, LeaseLost | StoreError>>()
const scheduleFor = (maxMs: number) => {
  let schedule = schedules.get(maxMs)
  if (schedule === undefined) {
    schedule = storeBackoff.schedule.pipe(Schedule.upTo({ duration: Math.max(maxMs, 1) }))
    if (schedules.size < 64) schedules.set(maxMs, schedule)
  }
  return schedule
}

const retryable = (e: LeaseLost | StoreError) => e._tag === "StoreError" && e.retryable

/**
 * Retry `write` while retryable, for about `maxMs`: past that the lease has
 * expired and another runner owns the job, so the write would be refused anyway.
 * A write that succeeds at once (nearly all) costs one error handler: the
 * retrying is set up at the first retryable failure, whose error stands for
 * the first run of the retried write.
 */
export const persist = <A>(
  write: Effect.Effect<A, LeaseLost | StoreError>,
  maxMs: number
): Effect.Effect<A, LeaseLost | StoreError> =>
  Effect.catch(write, (first) => {
    if (!retryable(first)) return Effect.fail(first)
    let failed: LeaseLost | StoreError | undefined = first
    const again = Effect.suspend(() => {
      const e = failed
      failed = undefined
      return e === undefined ? write : Effect.fail(e)
    })
    return again.pipe(Effect.retry({ while: retryable, schedule: scheduleFor(maxMs) }))
  })
