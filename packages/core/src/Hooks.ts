/**
 * Lifecycle hooks: run in the process that made the transition, once per
 * transition, after the store accepted it. A failing hook is logged and never
 * changes the job.
 *
 * @since 0.1.0
 */
import { Cause, Effect } from "effect"
import type { JobView } from "./Job.js"

/**
 * A hook: an Effect, or a plain (async) function. A rejected Promise or a
 * throw is logged like a failed Effect.
 *
 * @since 0.2.0
 * @category models
 */
export type Hook = (job: JobView) => Effect.Effect<void, unknown> | PromiseLike<unknown> | void

/**
 * @example
 * ```ts
 * const hooks: Hooks = {
 *   onCompleted: async (job) => { await mailer.send(job.owner, `Job ${job.id} is done`) },
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

/** Call a hook of either style as an Effect. */
const call = (hook: Hook, job: JobView): Effect.Effect<void, unknown> =>
  Effect.suspend(() => {
    const out = hook(job)
    if (Effect.isEffect(out)) return out
    if (out !== null && typeof out === "object" && typeof (out as PromiseLike<unknown>).then === "function") {
      return Effect.tryPromise({ try: () => Promise.resolve(out), catch: (e) => e }).pipe(Effect.asVoid)
    }
    return Effect.void
  })

/**
 * Run the hook for a job that just reached a terminal status.
 *
 * @since 0.1.0
 * @category combinators
 */
export const fire = (hooks: Hooks | undefined, job: JobView): Effect.Effect<void> => {
  const hook = job.status === "completed"
    ? hooks?.onCompleted
    : job.status === "failed"
    ? hooks?.onFailed
    : job.status === "cancelled"
    ? hooks?.onCancelled
    : undefined
  if (!hook) return Effect.void
  return call(hook, job).pipe(
    Effect.catchCause((cause) =>
      Effect.logWarning(`jobtrack: ${job.status} hook failed for job ${job.id}`, Cause.pretty(cause))
    )
  )
}
