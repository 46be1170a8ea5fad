/**
 * The `JobContext` a handler receives for one attempt.
 *
 * @internal
 */
import { Effect } from "effect"
import type { JobRecord } from "../../Job.js"
import type { JobContext } from "../../JobContext.js"

export const make = (
  job: JobRecord,
  signal: AbortSignal,
  progress: JobContext["progress"],
  steps: Pick<JobContext, "step" | "sleep">
): JobContext => ({
  ...steps,
  id: job.id,
  type: job.type,
  attempt: job.attempts,
  maxAttempts: job.maxAttempts,
  owner: job.owner,
  key: job.key,
  signal,
  log: (message, fields = {}) =>
    Effect.log(message).pipe(
      Effect.annotateLogs({ ...fields, jobId: job.id, type: job.type, attempt: job.attempts })
    ),
  progress
})
