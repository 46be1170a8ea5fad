/**
 * The `JobContext` a handler receives for one attempt.
 *
 * Every job gets one, and most handlers use little of it, so it is one
 * object: its methods are made when the handler first reads them (reading
 * one, e.g. `const { progress } = ctx`, gives a function that needs no
 * `this`), the abort signal when the handler first reads `signal`.
 *
 * @internal
 */
import { Clock, Effect } from "effect"
import type { JobRecord } from "../../Job.js"
import type { JobContext } from "../../JobContext.js"
import type * as Telemetry from "../telemetry.js"
import { lineText } from "../telemetry.js"
import type { LazyAbort } from "./lazyAbort.js"
import { messageText } from "./progressWriter.js"
import type { ProgressWriter } from "./progressWriter.js"

/** What an attempt's context reads from its job's run. */
export interface Source {
  readonly job: JobRecord
  readonly abort: LazyAbort
  /** Where `progress` goes (coalesced store writes) and where a kept log line asks to be written. */
  readonly writer: ProgressWriter
  /** Where `ctx.log` lines are kept until written. */
  readonly logs: Telemetry.LogBuffer
  readonly observer: Telemetry.AttemptObserver
  /** The attempt's durable steps, made at the first `step` or `sleep` (called as a method). */
  durable(): Pick<JobContext, "step" | "sleep">
}

const clamp = (percent: number) => (Number.isFinite(percent) ? Math.min(100, Math.max(0, Math.round(percent * 100) / 100)) : 0)

const progressOf = (source: Source): JobContext["progress"] => {
  const { observer, writer } = source
  return observer.active
    ? (percent, message) => {
      // the observer sees the message as it is stored (cut, storable), not the handler's raw text
      const kept = message === undefined ? undefined : messageText(message)
      return Effect.tap(writer.report(percent, kept), () => Effect.sync(() => observer.progress(clamp(percent), kept ?? null)))
    }
    : (percent, message) => writer.report(percent, message)
}

const logOf = (source: Source): JobContext["log"] => {
  const { job, logs, observer, writer } = source
  return (message, fields = {}) =>
    Effect.log(message).pipe(
      Effect.annotateLogs({ ...fields, jobId: job.id, type: job.type, attempt: job.attempts, ...observer.ids }),
      // kept with the attempt (bounded), written with the next progress write
      Effect.andThen(Effect.flatMap(Clock.currentTimeMillis, (now) => {
        logs.add("info", message, fields, new Date(now))
        // the observer (a span event) gets the line's text as kept, not a handler's megabytes
        if (observer.active) observer.log("info", lineText(message), fields)
        return writer.logged
      }))
    )
}

class AttemptContext implements JobContext {
  readonly id: string
  readonly type: string
  readonly attempt: number
  readonly maxAttempts: number
  readonly owner: string | null
  readonly key: string | null
  private made: {
    progress?: JobContext["progress"]
    log?: JobContext["log"]
    step?: JobContext["step"]
    sleep?: JobContext["sleep"]
  } | undefined

  constructor(private readonly source: Source) {
    const job = source.job
    this.id = job.id
    this.type = job.type
    this.attempt = job.attempts
    this.maxAttempts = job.maxAttempts
    this.owner = job.owner
    this.key = job.key
  }

  private get fns() {
    return (this.made ??= {})
  }

  get signal(): AbortSignal {
    return this.source.abort.signal
  }

  get progress(): JobContext["progress"] {
    return (this.fns.progress ??= progressOf(this.source))
  }

  get log(): JobContext["log"] {
    return (this.fns.log ??= logOf(this.source))
  }

  get step(): JobContext["step"] {
    const source = this.source
    return (this.fns.step ??= (name, work, options) => source.durable().step(name, work, options))
  }

  get sleep(): JobContext["sleep"] {
    const source = this.source
    return (this.fns.sleep ??= (duration) => source.durable().sleep(duration))
  }
}

export const make = (source: Source): JobContext => new AttemptContext(source)
