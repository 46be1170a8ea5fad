/**
 * Settling an attempt once its handler has ended: the one store write its
 * outcome calls for — completed (batched), cancelled, released on shutdown,
 * failed or retrying per the definition's retry policy — or none when the
 * lease was lost.
 *
 * @internal
 */
import { Cause, Clock, Duration, Effect, Exit, Option } from "effect"
import type { JobRecord, Json, Lease } from "../../Job.js"
import type * as JobDefinition from "../../JobDefinition.js"
import type { LeaseLost, StoreError } from "../../JobError.js"
import * as RetryPolicy from "../../RetryPolicy.js"
import * as Attempt from "../attempt.js"
import * as DurableSteps from "../durableSteps.js"
import type { StopReason } from "./cancellation.js"
import type { CompletionBatcher } from "./completionBatcher.js"
import { persist } from "./persist.js"
import type { RunnerState } from "./state.js"

/** The claimed job as its completion wrote it (the store's clock is the same `Clock`). */
const completedAs = (job: JobRecord, result: Json, now: number): JobRecord => {
  const at = new Date(now)
  return {
    ...job,
    status: "completed",
    result,
    progress: 100,
    errorMessage: null,
    lockedBy: null,
    lockedUntil: null,
    cancelRequested: false,
    completedAt: at,
    updatedAt: at
  }
}

export const settle = (
  state: RunnerState,
  completions: CompletionBatcher,
  job: JobRecord,
  lease: Lease,
  exit: Exit.Exit<Json, unknown>,
  reason: StopReason | null,
  def: JobDefinition.Any
): Effect.Effect<JobRecord | null, StoreError> =>
  Effect.gen(function*() {
    const { log, store } = state
    // the sleep released the job in its own write: nothing is left to write
    if (DurableSteps.slept(exit)) {
      yield* log("job sleeping", job)
      return null
    }
    if (reason === "leaseLost") {
      yield* log("lease lost; result dropped", job)
      return null
    }
    const write = (e: Effect.Effect<JobRecord, LeaseLost | StoreError>) => persist(e, state.settings.leaseMs)
    let settled: JobRecord
    if (Exit.isSuccess(exit)) {
      yield* completions.complete(lease, exit.value)
      // the store answers a completion with ids only: the record as written, from what the runner holds
      settled = completedAs(job, exit.value, yield* Clock.currentTimeMillis)
    } else if (reason === "cancel") {
      settled = yield* write(store.cancelled(lease))
    } else if (reason === "shutdown") {
      settled = yield* write(store.release(lease))
    } else {
      const interrupted = Cause.hasInterruptsOnly(exit.cause)
      const message = interrupted ? "interrupted" : Attempt.errorText(exit.cause)
      const stack = interrupted ? undefined : Attempt.errorStack(exit.cause)
      const delay = Attempt.isFatalCause(exit.cause) || job.attempts >= job.maxAttempts
        ? Option.none<Duration.Duration>()
        : yield* RetryPolicy.delayBefore(def.retry, job.attempts, `${job.id}:${job.attempts}`)
      const now = yield* Clock.currentTimeMillis
      const retryAt = Option.match(delay, { onNone: () => null, onSome: (d) => new Date(now + Duration.toMillis(d)) })
      // a retry due at once is announced by the store to every runner, this one too (rule 11);
      // one with a delay is found by the poll once due
      settled = yield* write(store.fail({ ...lease, message, retryAt, ...(stack === undefined ? {} : { stack }) }))
    }
    return settled
  }).pipe(Effect.catchTag("LeaseLost", () => Effect.as(state.log("lease lost before settling; write refused", job), null)))
