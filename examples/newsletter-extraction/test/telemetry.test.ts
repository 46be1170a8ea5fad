/**
 * The newsletter app, in its own process, exports to a real local HTTP server
 * standing in for an OpenTelemetry collector (OTLP/JSON): the request's
 * extraction arrives as spans of one trace and as metrics. Its `/metrics`
 * serves Prometheus text to the holder of METRICS_TOKEN only.
 */
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { fileURLToPath } from "node:url"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { call, startApp, tempDir, until } from "../../testing/harness.js"
import type { RunningApp } from "../../testing/harness.js"

const main = fileURLToPath(new URL("../src/main.ts", import.meta.url))

describe("newsletter app telemetry (its own process, on PGlite)", () => {
  const received: Array<{ path: string; body: any }> = []
  const collector = createServer((req, res) => {
    let body = ""
    req.on("data", (d) => (body += d))
    req.on("end", () => {
      try {
        received.push({ path: req.url ?? "", body: JSON.parse(body) })
      } catch {
        received.push({ path: req.url ?? "", body: null })
      }
      res.writeHead(200, { "content-type": "application/json" }).end("{}")
    })
  })
  let app: RunningApp
  beforeAll(async () => {
    collector.listen(0, "127.0.0.1")
    await new Promise<void>((resolve) => collector.once("listening", resolve))
    const endpoint = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`
    app = await startApp(main, {
      DATA_DIR: tempDir("newsletters-otel"),
      PIPELINE_TIME_SCALE: "0.3",
      OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
      METRICS_TOKEN: "scrape-me"
    })
  }, 240_000)
  afterAll(async () => {
    await app?.stop()
    await new Promise((resolve) => collector.close(resolve))
  })

  const spans = () =>
    received.filter((r) => r.path === "/v1/traces" && r.body)
      .flatMap((r) => r.body.resourceSpans.flatMap((rs: any) => rs.scopeSpans.flatMap((ss: any) => ss.spans)))
  const metricNames = () =>
    new Set(received.filter((r) => r.path === "/v1/metrics" && r.body)
      .flatMap((r) => r.body.resourceMetrics.flatMap((rm: any) => rm.scopeMetrics.flatMap((sm: any) => sm.metrics.map((m: any) => m.name)))))

  it("an extraction reaches the collector as one trace (enqueue → attempt) and as metrics; /metrics counts it", async () => {
    const res = await call(`${app.url}/api/newsletters/extract`, { method: "POST", user: "ann", body: { hours_back: 1, max_results: 5 } })
    assert.strictEqual(res.status, 202)
    const id = res.body.extraction_id
    await until(() => call(`${app.url}/api/newsletters/extractions/${id}/status`, { user: "ann" }), (s) => s.body.status === "completed", 30_000, "completed")

    // Prometheus text, for the token holder only
    assert.strictEqual((await fetch(`${app.url}/metrics`)).status, 404)
    assert.strictEqual((await fetch(`${app.url}/metrics`, { headers: { authorization: "Bearer wrong" } })).status, 404)
    const text = await (await fetch(`${app.url}/metrics`, { headers: { authorization: "Bearer scrape-me" } })).text()
    const completed = text.split("\n").find((l) => l.startsWith("jobtrack_jobs_completed_total{") && l.includes(`type="newsletter-extract"`))
    assert.isDefined(completed, text)
    assert.strictEqual(Number(completed!.split(" ").at(-1)), 1)

    // spans are sent every few seconds: wait (bounded) for the attempt's
    const isAttempt = (s: any) => s.name === "jobtrack.process newsletter-extract" &&
      s.attributes.some((a: any) => a.key === "messaging.message.id" && a.value.stringValue === id)
    await until(async () => spans(), (all) => all.some(isAttempt), 30_000, "the attempt's span exported")
    const all = spans()
    const attempt = all.find(isAttempt)
    const enqueue = all.find((s: any) => s.name === "jobtrack.enqueue newsletter-extract" && s.spanId === attempt.parentSpanId)
    assert.isDefined(enqueue, "the attempt is a child of the enqueue span")
    assert.strictEqual(attempt.traceId, enqueue.traceId)
    await until(async () => metricNames(), (names) => names.has("jobtrack_jobs_completed_total"), 30_000, "metrics exported")
  }, 120_000)
})
