/**
 * Telemetry in one process, on a TestClock: the spans an enqueue and its
 * attempts make (captured by an in-memory tracer), their events and errors,
 * the metrics (read back as Prometheus text from an isolated registry), the
 * kept `ctx.log` lines — and nothing at all when telemetry is off.
 * (Across OS processes: adapter-kysely/test/tracing.test.ts.)
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Metric, Option, Schema, Tracer } from "effect"
import { PrometheusMetrics } from "effect/observability"
import { TestClock } from "effect/testing"
import { JobDefinition, RetryPolicy, Telemetry } from "@jobtrack/core"
import { setup } from "./helpers.js"

const Empty = Schema.Struct({})

const capture = () => {
  const spans: Array<Tracer.NativeSpan> = []
  const tracer = Tracer.make({
    span(options) {
      const span = new Tracer.NativeSpan(options)
      spans.push(span)
      return span
    }
  })
  const named = (name: string) => spans.filter((s) => s.name === name)
  return { spans, tracer, named }
}

const parentId = (s: Tracer.Span) => Option.getOrUndefined(s.parent)?.spanId

/** `name{labels} value` lines of Prometheus text, as [name, labels, value]. */
const samples = (text: string) =>
  text.split("\n").filter((l) => l !== "" && !l.startsWith("#")).map((l) => {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)$/.exec(l)
    if (!m) throw new Error(`not a Prometheus sample line: ${l}`)
    const labels: Record<string, string> = {}
    for (const [, k, v] of (m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[k!] = v!
    return { name: m[1]!, labels, value: Number(m[3]) }
  })

const flaky = JobDefinition.make({
  type: "import",
  payload: Empty,
  retry: RetryPolicy.fixed("10 seconds", 1),
  handler: (_, ctx) =>
    Effect.gen(function*() {
      yield* ctx.progress(50, "half way")
      yield* ctx.log("fetched", { rows: 3 })
      yield* Effect.void.pipe(Effect.withSpan("parse"))
      if (ctx.attempt === 1) return yield* Effect.fail(new Error("mailbox unreachable"))
      return null
    })
})

describe("Telemetry", () => {
  it.effect("an attempt span per attempt, child of the enqueue span in the request's trace; handler spans nest; events, errors, outcome", () => {
    const { named, tracer } = capture()
    return Effect.gen(function*() {
      const { tracker } = yield* setup([flaky])
      const { job } = yield* tracker.enqueue(flaky, {}, { owner: "ann" }).pipe(Effect.withSpan("POST /imports"))
      yield* TestClock.adjust("1 minute")
      assert.strictEqual((yield* tracker.get(job.id)).status, "completed")

      const [request] = named("POST /imports")
      const [enqueue] = named("jobtrack.enqueue import")
      assert.strictEqual(parentId(enqueue!), request!.spanId)
      assert.strictEqual(enqueue!.kind, "producer")
      assert.strictEqual(enqueue!.attributes.get("messaging.destination.name"), "default")
      assert.strictEqual(enqueue!.attributes.get("messaging.message.id"), job.id)
      assert.strictEqual(job.traceparent, `00-${enqueue!.traceId}-${enqueue!.spanId}-01`)

      const attempts = named("jobtrack.process import")
      assert.strictEqual(attempts.length, 2)
      for (const [i, span] of attempts.entries()) {
        assert.strictEqual(span.traceId, request!.traceId)
        assert.strictEqual(parentId(span), enqueue!.spanId)
        assert.strictEqual(span.kind, "consumer")
        assert.strictEqual(span.attributes.get("messaging.system"), "jobtrack")
        assert.strictEqual(span.attributes.get("messaging.operation.type"), "process")
        assert.strictEqual(span.attributes.get("messaging.message.id"), job.id)
        assert.strictEqual(span.attributes.get("jobtrack.job.attempt"), i + 1)
        assert.isFalse(span.attributes.has("jobtrack.job.owner"), "owners are not recorded unless asked")
        const events = span.events.map(([name, , attrs]) => [name, attrs["jobtrack.progress"] ?? attrs["log.message"] ?? null])
        assert.deepInclude(events, ["progress", 50])
        assert.deepInclude(events, ["log", "fetched"])
      }
      const [first, second] = attempts
      assert.strictEqual(first!.attributes.get("jobtrack.job.outcome"), "retrying")
      assert.strictEqual(second!.attributes.get("jobtrack.job.outcome"), "completed")
      const retry = first!.events.find(([name]) => name === "retry")
      assert.strictEqual(retry?.[2]["jobtrack.retry.at"], new Date(10_000).toISOString())
      assert.isTrue(first!.status._tag === "Ended" && first!.status.exit._tag === "Failure", "the failed attempt ends with its error")
      assert.isTrue(second!.status._tag === "Ended" && second!.status.exit._tag === "Success")
      // the handler's own spans nest under its attempt
      assert.deepStrictEqual(named("parse").map(parentId), [first!.spanId, second!.spanId])

      const lines = yield* tracker.logs(job.id)
      assert.deepStrictEqual(lines.map((l) => [l.attempt, l.message, l.fields]), [[1, "fetched", { rows: 3 }], [2, "fetched", { rows: 3 }]])
    }).pipe(
      Effect.withTracer(tracer),
      Effect.provideService(Telemetry.Telemetry, Telemetry.settings()),
      Effect.provideService(Metric.MetricRegistry, new Map())
    )
  })

  it.effect("a log event carries the line as kept (cut to 2,000 characters), not a handler's megabytes", () => {
    const { named, tracer } = capture()
    return Effect.gen(function*() {
      const loud = JobDefinition.make({
        type: "loud-log",
        payload: Empty,
        retry: RetryPolicy.none,
        handler: (_, ctx) => ctx.log("z".repeat(5_000_000))
      })
      const { tracker } = yield* setup([loud])
      const { job } = yield* tracker.enqueue(loud, {})
      yield* TestClock.adjust("1 minute")
      assert.strictEqual((yield* tracker.get(job.id)).status, "completed")
      const [span] = named("jobtrack.process loud-log")
      const logged = span!.events.find(([name]) => name === "log")
      assert.strictEqual(logged?.[2]["log.message"], `${"z".repeat(1_999)}…`)
      assert.deepStrictEqual((yield* tracker.logs(job.id)).map((l) => l.message.length), [2_000])
    }).pipe(
      Effect.withTracer(tracer),
      Effect.provideService(Telemetry.Telemetry, Telemetry.settings()),
      Effect.provideService(Metric.MetricRegistry, new Map())
    )
  })

  it.effect("metrics count what ran: enqueued, started, retried, completed, durations, queue wait, store latency", () =>
    Effect.gen(function*() {
      const { tracker } = yield* setup([flaky])
      yield* tracker.enqueue(flaky, {})
      yield* tracker.enqueue(flaky, {})
      const { job } = yield* tracker.enqueue(flaky, {}, { delay: "1 hour" })
      yield* tracker.cancel(job.id)
      yield* TestClock.adjust("1 minute")
      const all = samples(yield* PrometheusMetrics.format())
      const value = (name: string, labels: Record<string, string> = {}) =>
        all.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
          .reduce((n, s) => n + s.value, 0)
      const job_ = { queue: "default", type: "import" }
      assert.strictEqual(value(Telemetry.names.enqueued, job_), 3)
      assert.strictEqual(value(Telemetry.names.started, job_), 4)
      assert.strictEqual(value(Telemetry.names.retried, job_), 2)
      assert.strictEqual(value(Telemetry.names.completed, job_), 2)
      assert.strictEqual(value(Telemetry.names.failed, job_), 0)
      assert.strictEqual(value(Telemetry.names.cancelled, job_), 1)
      assert.strictEqual(value(Telemetry.names.running, job_), 0)
      assert.strictEqual(value(`${Telemetry.names.duration}_count`, { ...job_, outcome: "completed" }), 2)
      assert.strictEqual(value(`${Telemetry.names.queueWait}_count`, job_), 4)
      // the retries waited their 10 s from the time they became due: nothing, on a TestClock
      assert.strictEqual(value(`${Telemetry.names.queueWait}_sum`, job_), 0)
      assert.isAbove(value(`${Telemetry.names.storeLatency}_count`, { operation: "claim" }), 0)
      assert.strictEqual(value(`${Telemetry.names.storeLatency}_count`, { operation: "enqueueMany" }), 3)
    }).pipe(
      Effect.provideService(Telemetry.Telemetry, Telemetry.settings()),
      Effect.provideService(Metric.MetricRegistry, new Map())
    ))

  it.effect("recordOwner puts the owner on spans; attemptSpans: link starts a new trace linked to the enqueue span", () => {
    const { named, tracer } = capture()
    return Effect.gen(function*() {
      const { tracker } = yield* setup([flaky])
      const { job } = yield* tracker.enqueue(flaky, {}, { owner: "ann" })
      yield* TestClock.adjust("1 minute")
      const [enqueue] = named("jobtrack.enqueue import")
      const [first] = named("jobtrack.process import")
      assert.strictEqual(first!.attributes.get("jobtrack.job.owner"), "ann")
      assert.isTrue(Option.isNone(first!.parent))
      assert.notStrictEqual(first!.traceId, enqueue!.traceId)
      assert.deepStrictEqual(first!.links.map((l) => [l.span.traceId, l.span.spanId]), [[enqueue!.traceId, enqueue!.spanId]])
      assert.strictEqual((yield* tracker.get(job.id)).status, "completed")
    }).pipe(
      Effect.withTracer(tracer),
      Effect.provideService(Telemetry.Telemetry, Telemetry.settings({ recordOwner: true, attemptSpans: "link" })),
      Effect.provideService(Metric.MetricRegistry, new Map())
    )
  })

  it.effect("durable steps are child spans of their attempt", () => {
    const { named, tracer } = capture()
    const stepped = JobDefinition.make({
      type: "stepped",
      payload: Empty,
      retry: RetryPolicy.none,
      handler: (_, ctx) =>
        Effect.gen(function*() {
          yield* ctx.step("fetch", Effect.void.pipe(Effect.withSpan("http GET")))
          yield* ctx.step("save", Effect.succeed(1))
          return null
        })
    })
    return Effect.gen(function*() {
      const { tracker } = yield* setup([stepped])
      const { job } = yield* tracker.enqueue(stepped, {})
      yield* TestClock.adjust("1 minute")
      assert.strictEqual((yield* tracker.get(job.id)).status, "completed")
      const [attempt] = named("jobtrack.process stepped")
      const steps = [...named("jobtrack.step fetch"), ...named("jobtrack.step save")]
      assert.deepStrictEqual(steps.map((s) => [s.attributes.get("jobtrack.step.name"), parentId(s)]), [
        ["fetch", attempt!.spanId],
        ["save", attempt!.spanId]
      ])
      assert.strictEqual(parentId(named("http GET")[0]!), steps[0]!.spanId)
    }).pipe(
      Effect.withTracer(tracer),
      Effect.provideService(Telemetry.Telemetry, Telemetry.settings()),
      Effect.provideService(Metric.MetricRegistry, new Map())
    )
  })

  it.effect("off by default: no trace context stored, no metric updated; ctx.log lines are still kept", () =>
    Effect.gen(function*() {
      const { tracker } = yield* setup([flaky])
      const { job } = yield* tracker.enqueue(flaky, {}).pipe(Effect.withSpan("POST /imports"))
      yield* TestClock.adjust("1 minute")
      const done = yield* tracker.get(job.id)
      assert.strictEqual(done.status, "completed")
      assert.isNotOk(done.traceparent)
      assert.strictEqual(yield* PrometheusMetrics.format(), "")
      assert.strictEqual((yield* tracker.logs(job.id)).length, 2)
    }).pipe(Effect.provideService(Metric.MetricRegistry, new Map())))
})

describe("Telemetry.layer({ jsonLogs: true })", () => {
  // outside it.effect, whose test services replace the logger
  it("writes log lines as JSON (effect's Logger loaded with the layer)", async () => {
    const lines: Array<unknown> = []
    const log = console.log
    console.log = (...args: Array<unknown>) => void lines.push(...args)
    try {
      await Effect.runPromise(Effect.log("hello").pipe(Effect.provide(Telemetry.layer({ jsonLogs: true }))))
    } finally {
      console.log = log
    }
    assert.strictEqual(lines.length, 1)
    assert.strictEqual(JSON.parse(String(lines[0])).message, "hello")
  })
})
