/**
 * Lifecycle hooks: called once a job reaches a terminal status, **at least
 * once**. The store records a pending delivery in the same write as the
 * transition; any process whose runner has a definition for the job's type and
 * a hook for the event claims it with a lease and calls the hook
 * (`HookDelivery`). A failing hook is retried with backoff, then the delivery
 * is dead; it never changes the job. A process that dies after the commit
 * leaves the delivery to another process, so a hook may run twice for the
 * same transition: make hooks idempotent, e.g. keyed by `delivery.id`.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import type { JobView } from "./Job.js"
import type { HookEvent } from "./JobStore.js"

/**
 * What a hook is told about the call itself.
 *
 * @since 0.2.0
 * @category models
 */
export interface Delivery {
  /** The same on every attempt of this delivery: use it to drop repeats. */
  readonly id: string
  /** 1 on the first attempt. */
  readonly attempt: number
}

/**
 * A hook: an Effect, or a plain (async) function. A failed Effect, a rejected
 * Promise or a throw fails the attempt; it is retried.
 *
 * @since 0.2.0
 * @category models
 */
export type Hook = (job: JobView, delivery: Delivery) => Effect.Effect<void, unknown> | PromiseLike<unknown> | void

/**
 * @example
 * ```ts
 * const hooks: Hooks = {
 *   onCompleted: async (job, delivery) => {
 *     await fetch(webhookUrl, { method: "POST", headers: { "Idempotency-Key": delivery.id }, body: JSON.stringify(job) })
 *   },
 *   onFailed: (job) => Effect.promise(() => mailer.send(job.owner, `Job ${job.id} failed: ${job.errorMessage}`))
 * }
 * ```
 * @since 0.1.0
 * @category models
 */
export interface Hooks {
  readonly onCompleted?: Hook
  /** Only when the job is finally failed, not for attempts that will be retried. */
  readonly onFailed?: Hook
  readonly onCancelled?: Hook
}

const names = { completed: "onCompleted", failed: "onFailed", cancelled: "onCancelled" } as const

/**
 * The events these hooks handle.
 *
 * @since 0.2.0
 * @category combinators
 */
export const events = (hooks: Hooks | undefined): ReadonlyArray<HookEvent> =>
  (["completed", "failed", "cancelled"] as const).filter((event) => hooks?.[names[event]] !== undefined)

/**
 * Call the hook for an event, of either style, as an Effect: its failure,
 * rejection or throw is the result's failure.
 *
 * @since 0.2.0
 * @category combinators
 */
export const invoke = (
  hooks: Hooks,
  event: HookEvent,
  job: JobView,
  delivery: Delivery
): Effect.Effect<void, unknown> => {
  const hook = hooks[names[event]]
  if (!hook) return Effect.void
  return Effect.suspend(() => {
    const out = hook(job, delivery)
    if (Effect.isEffect(out)) return out
    if (out !== null && typeof out === "object" && typeof (out as PromiseLike<unknown>).then === "function") {
      return Effect.tryPromise({ try: () => Promise.resolve(out), catch: (e) => e }).pipe(Effect.asVoid)
    }
    return Effect.void
  })
}
