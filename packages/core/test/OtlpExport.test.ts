/**
 * The `telemetry.otlp` option of `Jobtrack.make` exports over OTLP/HTTP
 * (JSON) to a real local HTTP server standing in for a collector: it gets the
 * enqueue and attempt spans of one trace, and the job metrics.
 */
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { Effect, Schema } from "effect"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { JobDefinition, Jobtrack, MemoryStore, RetryPolicy } from "@jobtrack/core"

const received: Array<{ path: string; body: any }> = []
const server = createServer((req, res) => {
  let body = ""
  req.on("data", (d) => (body += d))
  req.on("end", () => {
    received.push({ path: req.url ?? "", body: JSON.parse(body) })
    res.writeHead(200, { "content-type": "application/json" }).end("{}")
  })
})

const type = `otlp-${Math.random().toString(36).slice(2, 8)}`
const work = JobDefinition.make({
  type,
  payload: Schema.Struct({}),
  retry: RetryPolicy.none,
  handler: () => Effect.sleep("5 millis").pipe(Effect.withSpan("handler.work"), Effect.as(null))
})

describe("OTLP export", () => {
  let url: string
  beforeAll(async () => {
    server.listen(0, "127.0.0.1")
    await new Promise<void>((resolve) => server.once("listening", resolve))
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

  it("a collector receives the job's spans (one trace) and its metrics", async () => {
    const jobs = Jobtrack.make({
      store: MemoryStore.layer,
      definitions: [work],
      runner: { pollInterval: "50 millis" },
      telemetry: { otlp: { url, serviceName: "otlp-test", exportInterval: "200 millis" } }
    })
    await jobs.start()
    const { job } = await jobs.enqueue(work, {})
    for await (const _ of jobs.watch(job.id)) { /* until terminal */ }
    await jobs.close() // the exporters flush on shutdown

    const spans = received.filter((r) => r.path === "/v1/traces")
      .flatMap((r) => r.body.resourceSpans.flatMap((rs: any) => rs.scopeSpans.flatMap((ss: any) => ss.spans)))
    const named = (name: string) => spans.filter((s: any) => s.name === name)
    const [enqueue] = named(`jobtrack.enqueue ${type}`)
    const [attempt] = named(`jobtrack.process ${type}`)
    const [handler] = named("handler.work")
    assert.isDefined(enqueue)
    assert.isDefined(attempt)
    assert.strictEqual(attempt.traceId, enqueue.traceId)
    assert.strictEqual(attempt.parentSpanId, enqueue.spanId)
    assert.strictEqual(handler.parentSpanId, attempt.spanId)
    const attrs = Object.fromEntries(attempt.attributes.map((a: any) => [a.key, Object.values(a.value)[0]]))
    assert.strictEqual(attrs["messaging.system"], "jobtrack")
    assert.strictEqual(attrs["messaging.message.id"], job.id)
    const service = received.find((r) => r.path === "/v1/traces")!.body.resourceSpans[0].resource.attributes
      .find((a: any) => a.key === "service.name")
    assert.strictEqual(service.value.stringValue, "otlp-test")

    const metricNames = new Set(received.filter((r) => r.path === "/v1/metrics")
      .flatMap((r) => r.body.resourceMetrics.flatMap((rm: any) => rm.scopeMetrics.flatMap((sm: any) => sm.metrics.map((m: any) => m.name)))))
    for (const name of ["jobtrack_jobs_enqueued_total", "jobtrack_jobs_completed_total", "jobtrack_job_duration_seconds"]) {
      assert.isTrue(metricNames.has(name), `${name} exported`)
    }
  })
})
