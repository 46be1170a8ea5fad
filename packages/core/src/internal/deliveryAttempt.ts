/**
 * One attempt of a hook delivery, as the deliverer makes it: the hook called
 * under half the lease; on success the delivery deleted, on failure the next
 * attempt scheduled by the retry policy (or the delivery made dead), and on
 * interruption (shutdown) the attempt ended at once so any process may take
 * the delivery. A lost lease or a store that cannot answer is logged.
 */
import { Cause, Clock, Duration, Effect, Exit, Option, Schedule } from "effect"
import * as Hooks from "../Hooks.js"
import type { LeaseLost, StoreError } from "../JobError.js"
import type { HookDelivery, JobStoreShape } from "../JobStore.js"
import * as QueuePosition from "../QueuePosition.js"
import * as RetryPolicy from "../RetryPolicy.js"
import * as Storable from "../Storable.js"
import { maxErrorLength } from "./attempt.js"
import * as TextCut from "./textCut.js"

/** A failed call's error as stored: cut to `maxErrorLength` like an attempt's, storable in every store. */
const errorText = (cause: Cause.Cause<unknown>): string =>
  Storable.storableText(TextCut.cut(rawErrorText(cause), maxErrorLength))

const rawErrorText = (cause: Cause.Cause<unknown>): string => {
  if (Cause.hasInterruptsOnly(cause)) return "interrupted"
  const err = Cause.findErrorOption(cause)
  const value = Option.isSome(err) ? err.value : Cause.squash(cause)
  if (value instanceof Error) return value.message || value.name
  if (typeof value === "object" && value !== null && "message" in value && typeof value.message === "string") {
    return value.message
  }
  return String(value)
}

/** Retry a store write while the store says it may succeed later, for at most `maxMs`. */
const persist = <A>(write: Effect.Effect<A, LeaseLost | StoreError>, maxMs: number) =>
  write.pipe(
    Effect.retry({
      while: (e: LeaseLost | StoreError) => e._tag === "StoreError" && e.retryable,
      schedule: Schedule.exponential("100 millis").pipe(Schedule.upTo({ duration: Math.max(maxMs, 1) }))
    })
  )

/** What an attempt needs of its deliverer. */
export interface Deliverer {
  readonly store: JobStoreShape
  readonly hooks: Hooks.Hooks
  readonly policy: RetryPolicy.RetryPolicy
  readonly leaseMs: number
  readonly workerId: string
}

export const make = ({ hooks, leaseMs, policy, store, workerId }: Deliverer) => {
  const log = (message: string, d: HookDelivery) =>
    Effect.logDebug(message).pipe(
      Effect.annotateLogs({ deliveryId: d.id, jobId: d.jobId, event: d.event, attempt: d.attempts, workerId })
    )

  const fail = (d: HookDelivery, message: string) =>
    Effect.gen(function*() {
      const delay = yield* RetryPolicy.delayBefore(policy, d.attempts, `${d.id}:${d.attempts}`)
      const now = yield* Clock.currentTimeMillis
      const retryAt = Option.match(delay, { onNone: () => null, onSome: (x) => new Date(now + Duration.toMillis(x)) })
      const after = yield* persist(store.deliveryFailed({ id: d.id, token: d.token, message, retryAt }), leaseMs)
      if (after.status === "dead") {
        yield* Effect.logWarning(
          `jobtrack: ${d.event} hook for job ${d.jobId} gave up after ${d.attempts} attempts: ${message}`
        ).pipe(Effect.annotateLogs({ deliveryId: d.id }))
      } else yield* log(`hook failed; next attempt at ${after.availableAt.toISOString()}`, d)
    })

  /** End a held delivery's attempt now (shutdown): any process may take it at once. */
  const handBack = (d: HookDelivery, message: string) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      store.deliveryFailed({ id: d.id, token: d.token, message, retryAt: new Date(now) })
    ).pipe(Effect.ignore)

  /** Make one attempt of a claimed delivery; never fails. */
  const deliver = (d: HookDelivery): Effect.Effect<void> =>
    Effect.gen(function*() {
      // the previous holder vanished during its call as often as the policy allows attempts
      if (d.attempts > policy.maxRetries + 1) {
        return yield* fail(d, d.lastError ?? "the delivering process was lost during the call")
      }
      const exit = yield* Hooks.invoke(hooks, d.event, { ...d.job, ...QueuePosition.fields(null) }, {
        id: d.id,
        attempt: d.attempts
      }).pipe(
        Effect.timeoutOrElse({
          duration: Math.floor(leaseMs / 2),
          orElse: () => Effect.fail(new Error(`hook timed out after ${Math.floor(leaseMs / 2)} ms`))
        }),
        Effect.exit
      )
      if (Exit.isSuccess(exit)) {
        yield* persist(store.deliveryDone({ id: d.id, token: d.token }), leaseMs)
        return yield* log("hook delivered", d)
      }
      yield* fail(d, errorText(exit.cause))
    }).pipe(
      // shutdown: the attempt ends now, and any process may take the delivery at once
      Effect.onInterrupt(() => handBack(d, "interrupted by shutdown")),
      Effect.catchTag("LeaseLost", () => log("delivery lease lost; another process owns it now", d)),
      Effect.catchTag("StoreError", (e) => Effect.logWarning(`jobtrack: hook delivery write failed: ${e.reason}`))
    )

  return { deliver, handBack }
}
