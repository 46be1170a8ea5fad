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

/**
 * Retry `write` while retryable, for about `maxMs`: past that the lease has
 * expired and another runner owns the job, so the write would be refused anyway.
 */
export const persist = <A>(
  write: Effect.Effect<A, LeaseLost | StoreError>,
  maxMs: number
): Effect.Effect<A, LeaseLost | StoreError> =>
  write.pipe(
    Effect.retry({
      while: (e: LeaseLost | StoreError) => e._tag === "StoreError" && e.retryable,
      schedule: storeBackoff.schedule.pipe(Schedule.upTo({ duration: Math.max(maxMs, 1) }))
    })
  )
