/**
 * What the tracker and the runner call to be observed: the enqueue span, the
 * attempt's span, metrics and lifecycle logs, and the bounded buffer of an
 * attempt's `ctx.log` lines. With telemetry off (and no tracer of the host's)
 * every helper is a constant no-op, so the hot paths pay one branch.
 */
import { Cause, Clock, Context, Duration, Effect, Exit, LogLevel as EffectLogLevel, Metric, References, Tracer } from "effect"
import type { Tracer as TracerNs } from "effect"
import type { JobRecord } from "../Job.js"
import type { JobStoreShape } from "../JobStore.js"
import type { LogLevel, LogLine } from "../JobLogStore.js"
import { maxLineLength, maxLinesPerAttempt } from "../JobLogStore.js"
import * as Storable from "../Storable.js"
import * as TextCut from "./textCut.js"
import * as Traceparent from "./traceparent.js"
import { metrics, sampleQueueDepth, Telemetry } from "../Telemetry.js"
import type { Settings } from "../Telemetry.js"

const system = "jobtrack"

/** Whether spans are made: telemetry asks for them, or the host installed a tracer of its own. */
const tracing = (settings: Settings) =>
  Effect.map(Effect.tracer, (tracer) => settings.tracing || tracer !== Tracer.nativeTracer)

/** The settings in force. */
export const current = Effect.service(Telemetry)

const labels = (job: Pick<JobRecord, "queue" | "type">) => ({ queue: job.queue, type: job.type })

const bump = (metric: Metric.Metric<number, unknown>, attrs: Record<string, string>, by = 1) =>
  Metric.update(Metric.withAttributes(metric, attrs), by)

// -- enqueue ---------------------------------------------------------------

/**
 * Run an enqueue of `count` jobs of one type in a `jobtrack.enqueue <type>`
 * span; `insert` receives the span's `traceparent` to store with the jobs.
 */
export const enqueue = <A extends ReadonlyArray<{ readonly job: JobRecord; readonly created: boolean }>, E, R>(
  settings: Settings,
  def: { readonly type: string; readonly queue: string },
  count: number,
  insert: (traceparent: string | null) => Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> =>
  Effect.flatMap(tracing(settings), (traced) => {
    const counted = settings.metrics || settings.lifecycleLogs
      ? (traceparent: string | null) =>
        Effect.tap(insert(traceparent), (out: A) =>
          Effect.gen(function*() {
            const created = out.filter((e) => e.created)
            if (settings.metrics && created.length > 0) yield* bump(metrics.enqueued, labels(def), created.length)
            if (settings.lifecycleLogs) {
              const traceId = traceparent?.split("-")[1]
              for (const { job } of created) {
                yield* Effect.logInfo("job enqueued").pipe(Effect.annotateLogs({
                  jobId: job.id,
                  type: job.type,
                  queue: job.queue,
                  ...(traceId === undefined ? {} : { traceId }),
                  ...(settings.recordOwner && job.owner !== null ? { owner: job.owner } : {})
                }))
              }
            }
          }))
      : insert
    if (!traced) return counted(null)
    return Effect.flatMap(Effect.currentSpan.pipe(Effect.orDie), (span) => {
      const traceparent = Traceparent.format(span)
      return counted(traceparent).pipe(
        Effect.tap((out) =>
          Effect.sync(() => {
            if (out.length === 1) {
              span.attribute("messaging.message.id", out[0]!.job.id)
              span.attribute("jobtrack.job.created", out[0]!.created)
            }
          })
        )
      )
    }).pipe(
      Effect.withSpan(`jobtrack.enqueue ${def.type}`, {
        kind: "producer",
        attributes: {
          "messaging.system": system,
          "messaging.operation.type": "send",
          "messaging.operation.name": "enqueue",
          "messaging.destination.name": def.queue,
          "jobtrack.job.type": def.type,
          ...(count > 1 ? { "messaging.batch.message_count": count } : {})
        }
      })
    )
  })

/** Run a durable step in a `jobtrack.step <name>` span (a child of the attempt's) when traced. */
export const step = <A, E, R>(name: string, self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.flatMap(current, (settings) =>
    Effect.flatMap(tracing(settings), (traced) =>
      traced ? self.pipe(Effect.withSpan(`jobtrack.step ${name}`, { attributes: { "jobtrack.step.name": name } })) : self))

/** Count jobs cancelled outside a runner (a pending or retrying job cancelled by the tracker). */
export const cancelledNow = (settings: Settings, job: JobRecord): Effect.Effect<void> =>
  settings.metrics && job.status === "cancelled" ? bump(metrics.cancelled, labels(job)) : Effect.void

// -- the store -------------------------------------------------------------

/** The store with every round trip timed into the store latency histogram (metrics on), else itself. */
export const instrumentStore = (settings: Settings, store: JobStoreShape): JobStoreShape => {
  if (!settings.metrics) return store
  const out: Record<string, unknown> = { ...store }
  for (const [name, value] of Object.entries(store)) {
    if (typeof value !== "function" || name === "watching") continue
    const timer = Metric.withAttributes(metrics.storeLatency, { operation: name })
    out[name] = (...args: Array<unknown>) =>
      Effect.trackDuration((value as (...a: Array<unknown>) => Effect.Effect<unknown>)(...args), timer, Duration.toSeconds)
  }
  return out as unknown as JobStoreShape
}

/** Sample the depth gauges every `settings.depthIntervalMs` (metrics on), for the runner's types. */
export const depthSampler = (
  settings: Settings,
  store: JobStoreShape,
  definitions: ReadonlyMap<string, { readonly queue: string }>
): Effect.Effect<void> => {
  if (!settings.metrics) return Effect.void
  const queues = new Map([...definitions].map(([type, def]) => [type, def.queue]))
  return sampleQueueDepth(store.stats({}), queues).pipe(Effect.andThen(Effect.sleep(settings.depthIntervalMs)), Effect.forever)
}

// -- attempt logs ------------------------------------------------------------

/** An attempt's `ctx.log` lines not yet written, bounded per attempt. Call its functions as methods. */
export interface LogBuffer {
  add(level: LogLevel, message: string, fields: Readonly<Record<string, unknown>>, at: Date): void
  /** The lines added since the last take. */
  take(): ReadonlyArray<LogLine>
}

/** A line's text as kept: cut to `maxLineLength` (never mid surrogate pair: `jsonb` refuses half of one), storable. */
export const lineText = (s: string): string => Storable.storableText(TextCut.cut(s, maxLineLength))

const keptFields = (fields: Readonly<Record<string, unknown>>): Readonly<Record<string, unknown>> | null => {
  if (Object.keys(fields).length === 0) return null
  try {
    const text = JSON.stringify(fields)
    if (text === undefined) return null
    if (text.length > maxLineLength || Storable.textProblem(text) !== undefined) return { truncated: lineText(text) }
    return JSON.parse(text) as Record<string, unknown>
  } catch {
    return { unserializable: true }
  }
}

/** Every job's run makes one: a plain object until the first line (no closures per job). */
class Lines implements LogBuffer {
  private pending: Array<LogLine> = []
  private kept = 0
  private dropped = 0
  constructor(private readonly attempt: number) {}

  add(level: LogLevel, message: string, fields: Readonly<Record<string, unknown>>, at: Date): void {
    const { attempt, pending } = this
    if (this.kept >= maxLinesPerAttempt - 1) {
      const dropped = ++this.dropped
      const last = pending[pending.length - 1]
      const note = `${dropped} more line${dropped === 1 ? "" : "s"} dropped (at most ${maxLinesPerAttempt} per attempt)`
      if (this.kept === maxLinesPerAttempt && last?.fields?.["jobtrack.dropped"] !== undefined) {
        pending[pending.length - 1] = { ...last, at, message: note, fields: { "jobtrack.dropped": dropped } }
      } else if (this.kept < maxLinesPerAttempt) {
        this.kept++
        pending.push({ attempt, at, level: "warning", message: note, fields: { "jobtrack.dropped": dropped } })
      }
      return
    }
    this.kept++
    pending.push({ attempt, at, level, message: lineText(message), fields: keptFields(fields) })
  }

  take(): ReadonlyArray<LogLine> {
    const out = this.pending
    this.pending = []
    return out
  }
}

export const logBuffer = (attempt: number): LogBuffer => new Lines(attempt)

// -- the attempt -------------------------------------------------------------

/** How an attempt ended, as the runner settled it. */
export type Outcome = "completed" | "retrying" | "failed" | "cancelled" | "released" | "sleeping" | "lost"

/** The outcome of a settled attempt (null: the lease was lost, nothing written). */
export const outcomeOf = (settled: JobRecord | null): Outcome =>
  settled === null ? "lost"
  : settled.status === "pending" ? "released"
  : settled.status === "processing" ? "lost"
  : settled.status

/** One attempt's span, metrics and lifecycle logs. */
export interface AttemptObserver {
  /** False when nothing is observed (then the runner skips the hooks). */
  readonly active: boolean
  /** The attempt span's ids, for log annotations (empty when not traced). */
  readonly ids: Readonly<Record<string, string>>
  /** Run the attempt (its handler, its settling) under the attempt span. */
  readonly within: <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  readonly progress: (progress: number, message: string | null) => void
  readonly log: (level: LogLevel, message: string, fields: Readonly<Record<string, unknown>>) => void
  /** The attempt is over: record its outcome, end the span with the handler's exit. */
  readonly settled: (exit: Exit.Exit<unknown, unknown>, job: JobRecord | null, outcome: Outcome) => Effect.Effect<void>
  /** Log a lifecycle line of this attempt (annotated with the job and the trace). */
  readonly lifecycle: (message: string, job: JobRecord, extra?: Record<string, unknown>) => Effect.Effect<void>
}

const maxEvents = 128

const nowNanos = () => BigInt(Date.now()) * 1_000_000n

/** Only the plain lifecycle log line (telemetry off, no tracer of the host's). */
/** Whether debug lines pass the minimum log level (read per line: it can differ per fiber). */
const debugEnabled = EffectLogLevel.isEnabled("Debug")

const quiet = (workerId: string): AttemptObserver => ({
  active: false,
  ids: {},
  within: (self) => self,
  progress: () => {},
  log: () => {},
  settled: () => Effect.void,
  // annotating a line costs more than the check: only when the line would be written
  lifecycle: (message, job, extra = {}) =>
    Effect.flatMap(debugEnabled, (enabled) =>
      enabled
        ? Effect.logDebug(message).pipe(
          Effect.annotateLogs({ jobId: job.id, type: job.type, attempt: job.attempts, workerId, ...extra })
        )
        : Effect.void)
})

const remoteParent = (traceparent: string | null | undefined): TracerNs.ExternalSpan | undefined =>
  traceparent ? Traceparent.parse(traceparent) : undefined

/**
 * The observer of one attempt of `job` (as claimed), started now: its span (a
 * child of, or linked to, the enqueue span), the started counter, the
 * queue-wait histogram and the running gauge.
 */
export const attempt = (settings: Settings, job: JobRecord, workerId: string): Effect.Effect<AttemptObserver> =>
  settings.tracing || settings.metrics || settings.lifecycleLogs
    ? observe(settings, job, workerId)
    // off: one check of the tracer, and the same quiet observer for every job of this worker
    : Effect.flatMap(Effect.tracer, (tracer) =>
      tracer === Tracer.nativeTracer ? Effect.succeed(quietOf(workerId)) : observe(settings, job, workerId))

/**
 * {@link attempt} without an Effect when nothing is observed in `context`
 * (telemetry off, no tracer of the host's): the worker's quiet observer.
 * Undefined otherwise: then use `attempt`.
 */
export const quietIn = (context: Context.Context<never>, workerId: string): AttemptObserver | undefined => {
  const settings = Context.get(context, Telemetry)
  if (settings.tracing || settings.metrics || settings.lifecycleLogs) return undefined
  return Context.get(context, Tracer.Tracer) === Tracer.nativeTracer ? quietOf(workerId) : undefined
}

/** Whether debug lines (the quiet observer's lifecycle lines, the runner's own) are written in `context`. */
export const debugIn = (context: Context.Context<never>): boolean =>
  !EffectLogLevel.isGreaterThan(Context.get(context, References.MinimumLogLevel), "Debug")

const quietObservers = new Map<string, AttemptObserver>()
const quietOf = (workerId: string): AttemptObserver => {
  let observer = quietObservers.get(workerId)
  if (observer === undefined) {
    if (quietObservers.size > 64) quietObservers.clear()
    observer = quiet(workerId)
    quietObservers.set(workerId, observer)
  }
  return observer
}

const observe = (settings: Settings, job: JobRecord, workerId: string): Effect.Effect<AttemptObserver> =>
  Effect.gen(function*() {
    const traced = yield* tracing(settings)
    if (!traced && !settings.metrics && !settings.lifecycleLogs) return quiet(workerId)
    const startedMs = yield* Clock.currentTimeMillis
    const attrs = labels(job)
    if (settings.metrics) {
      yield* bump(metrics.started, attrs)
      yield* Metric.modify(Metric.withAttributes(metrics.running, attrs), 1)
      const readyAt = job.runAt.getTime()
      yield* Metric.update(Metric.withAttributes(metrics.queueWait, attrs), Math.max(0, startedMs - readyAt) / 1000)
    }
    let span: TracerNs.Span | undefined
    if (traced) {
      const remote = remoteParent(job.traceparent)
      span = yield* Effect.makeSpan(`jobtrack.process ${job.type}`, {
        kind: "consumer",
        root: remote === undefined || settings.attemptSpans === "link",
        ...(remote === undefined ? {} : settings.attemptSpans === "link"
          ? { links: [{ span: remote, attributes: { "jobtrack.link": "enqueue" } }] }
          : { parent: remote }),
        attributes: {
          "messaging.system": system,
          "messaging.operation.type": "process",
          "messaging.operation.name": "process",
          "messaging.destination.name": job.queue,
          "messaging.message.id": job.id,
          "jobtrack.job.type": job.type,
          "jobtrack.job.attempt": job.attempts,
          "jobtrack.job.max_attempts": job.maxAttempts,
          "jobtrack.worker.id": workerId,
          ...(settings.recordOwner && job.owner !== null ? { "jobtrack.job.owner": job.owner } : {})
        }
      })
    }
    let events = 0
    let lastProgress: number | null = null
    const event = (name: string, attributes: Record<string, unknown>) => {
      if (!span) return
      if (events >= maxEvents) return
      events++
      span.event(name, nowNanos(), attributes)
    }
    const annotations = (job: JobRecord, extra: Record<string, unknown>) => ({
      jobId: job.id,
      type: job.type,
      queue: job.queue,
      attempt: job.attempts,
      workerId,
      ...(span ? { traceId: span.traceId, spanId: span.spanId } : {}),
      ...(settings.recordOwner && job.owner !== null ? { owner: job.owner } : {}),
      ...extra
    })
    const observer: AttemptObserver = {
      active: true,
      ids: span ? { traceId: span.traceId, spanId: span.spanId } : {},
      within: (self) => (span ? Effect.withParentSpan(self, span) : self),
      progress: (progress, message) => {
        if (progress === lastProgress) return
        lastProgress = progress
        event("progress", { "jobtrack.progress": progress, ...(message === null ? {} : { "jobtrack.progress.message": message }) })
      },
      log: (level, message, fields) => event("log", { "log.severity": level, "log.message": message, ...prefixed(fields) }),
      lifecycle: (message, job, extra = {}) => {
        const line = settings.lifecycleLogs ? Effect.logInfo(message) : Effect.logDebug(message)
        return line.pipe(Effect.annotateLogs(annotations(job, extra)))
      },
      settled: (exit, settledJob, outcome) =>
        Effect.gen(function*() {
          const endMs = yield* Clock.currentTimeMillis
          if (settings.metrics) {
            yield* Metric.modify(Metric.withAttributes(metrics.running, attrs), -1)
            yield* Metric.update(Metric.withAttributes(metrics.duration, { ...attrs, outcome }), Math.max(0, endMs - startedMs) / 1000)
            const counter = outcome === "completed" ? metrics.completed
              : outcome === "retrying" ? metrics.retried
              : outcome === "failed" ? metrics.failed
              : outcome === "cancelled" ? metrics.cancelled
              : undefined
            if (counter) yield* bump(counter, attrs)
          }
          if (span) {
            span.attribute("jobtrack.job.outcome", outcome)
            if (outcome === "retrying" && settledJob?.nextRetryAt) {
              events = Math.min(events, maxEvents - 1) // the retry event is always kept
              event("retry", {
                "jobtrack.retry.at": settledJob.nextRetryAt.toISOString(),
                "jobtrack.retry.delay_ms": Math.max(0, settledJob.nextRetryAt.getTime() - endMs),
                "jobtrack.retry.next_attempt": settledJob.attempts + 1
              })
            }
            if (events >= maxEvents) span.attribute("jobtrack.events.dropped", true)
            // an interruption by the runner (cancel, shutdown) is not an error of the job
            const ended = Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause) ? Exit.void : exit
            span.end(BigInt(endMs) * 1_000_000n, ended)
          }
        })
    }
    return observer
  })

const prefixed = (fields: Readonly<Record<string, unknown>>) => {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(fields)) {
    out[`log.field.${k}`] = typeof v === "string" || typeof v === "number" || typeof v === "boolean" ? v : JSON.stringify(v)
  }
  return out
}
