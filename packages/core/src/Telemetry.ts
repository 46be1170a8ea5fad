/**
 * Telemetry: traces, metrics and lifecycle logs of jobs, through Effect's own
 * tracing and metrics (and `effect/observability`'s OTLP exporters), so they
 * reach whatever the host already uses: an OTLP collector, Prometheus, or the
 * host's own Effect tracer layer.
 *
 * - **Traces.** An enqueue runs in a `jobtrack.enqueue <type>` span whose W3C
 *   `traceparent` is stored with the job; each attempt runs in a
 *   `jobtrack.process <type>` span, a child of that span (or, with
 *   `attemptSpans: "link"`, a new trace linked to it) in whatever process runs
 *   it, with the handler's own spans nested. Progress, retries and `ctx.log`
 *   lines are span events; a failed attempt ends its span with the error.
 * - **Metrics.** Counters, histograms and gauges named in {@link names}
 *   (units in the names: `_seconds`, `_total`), served in Prometheus text by
 *   `@jobtrack/adapter-koa`'s `metricsRouter` or exported over OTLP.
 * - **Logs.** Lifecycle lines (enqueued, started, completed, retrying, failed,
 *   cancelled) annotated with job id, type, queue, attempt and trace id; JSON
 *   lines with `jsonLogs`.
 *
 * Off by default and then free: without this layer (or the `telemetry`
 * option of `Jobtrack.make`) no metric is updated, no log line is formatted,
 * and no span is made unless the host installed a tracer of its own (then
 * spans go to it: the host's tracer is the opt-in).
 *
 * @example
 * ```ts
 * // export spans and metrics to a local OpenTelemetry collector
 * const Live = Runner.layer({ definitions: [extractText] }).pipe(
 *   Layer.provide(Telemetry.layer({ otlp: { url: "http://127.0.0.1:4318", serviceName: "worker" } })),
 *   Layer.provide(MemoryStore.layer)
 * )
 * ```
 * @since 0.2.0
 */
import { Context, Duration, Effect, Layer, Metric } from "effect"
import type { StoreError } from "./JobError.js"
import type { Stats } from "./JobStore.js"

/**
 * @since 0.2.0
 * @category models
 */
export interface TelemetryOptions {
  /** Make spans (default true). Without an exporter or a tracer of the host's, they go nowhere. */
  readonly tracing?: boolean | undefined
  /** Update metrics (default true). */
  readonly metrics?: boolean | undefined
  /** Put the job's owner on spans and log lines (default false: owners often identify people). */
  readonly recordOwner?: boolean | undefined
  /** Attempt spans as children of the enqueue span (default), or as new traces linked to it. */
  readonly attemptSpans?: "child" | "link" | undefined
  /** Lifecycle log lines at Info (default true; otherwise they stay at Debug). */
  readonly lifecycleLogs?: boolean | undefined
  /** Replace the logger with Effect's JSON logger: one JSON object per line (default false). */
  readonly jsonLogs?: boolean | undefined
  /** How often a runner samples queue depth into the gauges (default 15 s). */
  readonly depthInterval?: Duration.Input | undefined
  /**
   * Export spans, metrics and logs over OTLP/HTTP (JSON) to a collector, e.g.
   * `{ url: "http://127.0.0.1:4318" }` (the paths `/v1/traces`, `/v1/metrics`
   * and `/v1/logs` are appended).
   */
  readonly otlp?: {
    readonly url: string
    readonly serviceName?: string | undefined
    readonly serviceVersion?: string | undefined
    readonly headers?: Readonly<Record<string, string>> | undefined
    /** How often spans and metrics are sent (default 5 s for spans, 10 s for metrics). */
    readonly exportInterval?: Duration.Input | undefined
  } | undefined
}

/**
 * What the runner and the tracker read: the options, resolved.
 *
 * @since 0.2.0
 * @category models
 */
export interface Settings {
  readonly tracing: boolean
  readonly metrics: boolean
  readonly recordOwner: boolean
  readonly attemptSpans: "child" | "link"
  readonly lifecycleLogs: boolean
  readonly depthIntervalMs: number
}

/**
 * Telemetry off: the default.
 *
 * @since 0.2.0
 * @category constants
 */
export const off: Settings = {
  tracing: false,
  metrics: false,
  recordOwner: false,
  attemptSpans: "child",
  lifecycleLogs: false,
  depthIntervalMs: 15_000
}

/**
 * The settings in force (default {@link off}).
 *
 * @since 0.2.0
 * @category services
 */
export const Telemetry = Context.Reference<Settings>("@jobtrack/core/Telemetry", { defaultValue: () => off })

/**
 * Resolve options into settings.
 *
 * @since 0.2.0
 * @category constructors
 */
export const settings = (options: TelemetryOptions = {}): Settings => ({
  tracing: options.tracing ?? true,
  metrics: options.metrics ?? true,
  recordOwner: options.recordOwner ?? false,
  attemptSpans: options.attemptSpans ?? "child",
  lifecycleLogs: options.lifecycleLogs ?? true,
  depthIntervalMs: Duration.toMillis(options.depthInterval ?? "15 seconds")
})

/**
 * Turn telemetry on for the runners and trackers built with this layer, and
 * with `otlp`, export to a collector (Effect's `Otlp.layerJson` over `fetch`).
 * A host with its own tracer layer (OpenTelemetry SDK, `OtlpTracer`…) provides
 * it beside this one, without `otlp`.
 *
 * @example
 * ```ts
 * const TelemetryLive = Telemetry.layer({ otlp: { url: process.env.OTEL_EXPORTER_OTLP_ENDPOINT! } })
 * ```
 * @since 0.2.0
 * @category layers
 */
export const layer = (options: TelemetryOptions = {}): Layer.Layer<never> => {
  const parts: Array<Layer.Layer<never>> = [Layer.succeed(Telemetry, settings(options))]
  // effect's Logger module (and the file system modules it links) loaded only for JSON logs
  if (options.jsonLogs) parts.push(Layer.unwrap(Effect.promise(() => import("effect/Logger")).pipe(
    Effect.map((Logger) => Logger.layer([Logger.consoleJson]))
  )))
  if (options.otlp) {
    const o = options.otlp
    // loaded when an exporter is configured: importing jobtrack does not load the OTLP and HTTP client modules
    const exporter = Layer.unwrap(Effect.promise(async () => {
      const [Otlp, FetchHttpClient] = await Promise.all([
        import("effect/observability/Otlp"),
        import("effect/http/FetchHttpClient")
      ])
      return Otlp.layerJson({
        baseUrl: o.url,
        resource: { serviceName: o.serviceName ?? "jobtrack", serviceVersion: o.serviceVersion },
        headers: o.headers,
        ...(o.exportInterval === undefined ? {} : { tracerExportInterval: o.exportInterval, metricsExportInterval: o.exportInterval, loggerExportInterval: o.exportInterval })
      }).pipe(Layer.provide(FetchHttpClient.layer))
    }))
    // its output (the exporters' flusher) is nobody's business but the exporters'
    parts.push(exporter as unknown as Layer.Layer<never>)
  }
  return Layer.mergeAll(...(parts as [Layer.Layer<never>, ...Array<Layer.Layer<never>>]))
}

/**
 * The metric names. Units are in the names (`_seconds`; `_total` for
 * counters). Labels: `queue` and `type` everywhere; `outcome` (completed,
 * retrying, failed, cancelled, released) on durations; `status` on the
 * depth gauge; `operation` on store latency.
 *
 * @since 0.2.0
 * @category constants
 */
export const names = {
  enqueued: "jobtrack_jobs_enqueued_total",
  started: "jobtrack_jobs_started_total",
  completed: "jobtrack_jobs_completed_total",
  failed: "jobtrack_jobs_failed_total",
  retried: "jobtrack_jobs_retried_total",
  cancelled: "jobtrack_jobs_cancelled_total",
  duration: "jobtrack_job_duration_seconds",
  queueWait: "jobtrack_job_queue_wait_seconds",
  depth: "jobtrack_queue_depth",
  running: "jobtrack_jobs_running",
  storeLatency: "jobtrack_store_operation_duration_seconds"
} as const

const seconds = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600]

/**
 * The metrics themselves (Effect `Metric`s, in the process-wide registry).
 *
 * @since 0.2.0
 * @category metrics
 */
export const metrics = {
  enqueued: Metric.counter(names.enqueued, { description: "Jobs enqueued (created; a key dedupe is not counted)", incremental: true }),
  started: Metric.counter(names.started, { description: "Attempts started", incremental: true }),
  completed: Metric.counter(names.completed, { description: "Jobs completed", incremental: true }),
  failed: Metric.counter(names.failed, { description: "Jobs failed for good (no attempt left, or a fatal error)", incremental: true }),
  retried: Metric.counter(names.retried, { description: "Failed attempts that will be retried", incremental: true }),
  cancelled: Metric.counter(names.cancelled, { description: "Jobs cancelled", incremental: true }),
  duration: Metric.histogram(names.duration, { description: "Attempt duration, start to settled, in seconds", boundaries: seconds }),
  queueWait: Metric.histogram(names.queueWait, {
    description: "Seconds from when a job could run (enqueue, run-at or retry time) to when an attempt started",
    boundaries: seconds
  }),
  depth: Metric.gauge(names.depth, { description: "Jobs per status (pending, retrying, processing) in the store, sampled" }),
  running: Metric.gauge(names.running, { description: "Attempts running in this process" }),
  storeLatency: Metric.histogram(names.storeLatency, {
    description: "Store round trips, in seconds",
    boundaries: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]
  })
} as const

/**
 * Set the depth gauge (`jobtrack_queue_depth{queue,type,status}` for
 * pending, retrying and processing) from the store's counts, for the given
 * types and their queues. Runners do it every `depthInterval` when metrics
 * are on; `metricsRouter` does it at each scrape. A store error is logged
 * and the gauges keep their last values.
 *
 * @example
 * ```ts
 * yield* Telemetry.sampleQueueDepth(tracker.stats(), new Map([["extract-text", "default"]]))
 * ```
 * @since 0.2.0
 * @category metrics
 */
export const sampleQueueDepth = (
  stats: Effect.Effect<Stats, StoreError>,
  queues: ReadonlyMap<string, string>
): Effect.Effect<void> =>
  stats.pipe(
    Effect.flatMap((s) =>
      Effect.forEach(queues, ([type, queue]) => {
        const counts = s.byType.find((t) => t.type === type)?.counts
        return Effect.forEach(["pending", "retrying", "processing"] as const, (status) =>
          Metric.update(Metric.withAttributes(metrics.depth, { queue, type, status }), counts?.[status] ?? 0), { discard: true })
      }, { discard: true })
    ),
    Effect.catchTag("StoreError", (e) => Effect.logDebug(`jobtrack: queue depth not sampled: ${e.reason}`))
  )
