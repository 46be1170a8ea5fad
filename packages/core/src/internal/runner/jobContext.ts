/**
 * The `JobContext` a handler receives for one attempt.
 *
 * @internal
 */
import { Clock, Effect } from "effect"
import type { JobRecord } from "../../Job.js"
import type { JobContext } from "../../JobContext.js"
import type * as Telemetry from "../telemetry.js"
import type { LazyAbort } from "./lazyAbort.js"

/** Where an attempt's `ctx.log` lines and progress go besides the logger and the store. */
export interface Observed {
  readonly observer: Telemetry.AttemptObserver
  readonly logs: Telemetry.LogBuffer
  /** A line was kept: have it written soon. */
  readonly logged: Effect.Effect<void>
}

const clamp = (percent: number) => (Number.isFinite(percent) ? Math.min(100, Math.max(0, Math.round(percent * 100) / 100)) : 0)

export const make = (
  job: JobRecord,
  abort: LazyAbort,
  report: JobContext["progress"],
  steps: Pick<JobContext, "step" | "sleep">,
  observed: Observed
): JobContext => {
  const { logged, logs, observer } = observed
  const progress: JobContext["progress"] = observer.active
    ? (percent, message) =>
      Effect.tap(report(percent, message), () => Effect.sync(() => observer.progress(clamp(percent), message ?? null)))
    : report
  return {
    ...steps,
    id: job.id,
    type: job.type,
    attempt: job.attempts,
    maxAttempts: job.maxAttempts,
    owner: job.owner,
    key: job.key,
    // made when the handler first reads it
    get signal() {
      return abort.signal
    },
    log: (message, fields = {}) =>
      Effect.log(message).pipe(
        Effect.annotateLogs({ ...fields, jobId: job.id, type: job.type, attempt: job.attempts, ...observer.ids }),
        // kept with the attempt (bounded), written with the next progress write
        Effect.andThen(Effect.flatMap(Clock.currentTimeMillis, (now) => {
          logs.add("info", message, fields, new Date(now))
          observer.log("info", message, fields)
          return logged
        }))
      ),
    progress
  }
}
