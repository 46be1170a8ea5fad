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
 * @example
 * ```ts
 * const hooks: Hooks = {
 *   onFailed: (job) => Effect.promise(() => mailer.send(job.owner, `Job ${job.id} failed: ${job.errorMessage}`))
 * }
 * ```
 * @since 0.1.0
 * @category models
 */
export interface Hooks {
  readonly onCompleted?: (job: JobView) => Effect.Effect<void, unknown>
  /** Only when the job is finally failed, not for attempts that will be retried. */
  readonly onFailed?: (job: JobView) => Effect.Effect<void, unknown>
  readonly onCancelled?: (job: JobView) => Effect.Effect<void, unknown>
}

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
  return Effect.suspend(() => hook(job)).pipe(
    Effect.catchCause((cause) =>
      Effect.logWarning(`jobtrack: ${job.status} hook failed for job ${job.id}`, Cause.pretty(cause))
    )
  )
}
