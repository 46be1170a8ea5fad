/**
 * metricsRouter over a listening Koa server: Prometheus text whose counters
 * match the jobs a Jobtrack with telemetry ran, the depth gauges sampled at
 * scrape, access refused (404 by default, 403 when asked) without a secret,
 * and the job view's `logs` on GET /:id.
 */
import type { AddressInfo } from "node:net"
import type { Server } from "node:http"
import Koa from "koa"
import { Effect, Schema } from "effect"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { JobDefinition, Jobtrack, MemoryStore, RetryPolicy, Telemetry } from "@jobtrack/core"
import { jobsRouter, metricsRouter } from "@jobtrack/adapter-koa"

/** A unique type per run: the metric registry is process-wide. */
const type = `metrics-${Math.random().toString(36).slice(2, 8)}`

const work = JobDefinition.make({
  type,
  payload: Schema.Struct({ fail: Schema.Boolean }),
  retry: RetryPolicy.none,
  handler: ({ fail }, ctx) =>
    Effect.gen(function*() {
      yield* ctx.log("working", { fail })
      if (fail) return yield* Effect.fail(new Error("boom"))
      return null
    })
})

/** Prometheus text exposition, parsed strictly: every non-comment line is `name{labels} value`. */
const parse = (text: string) => {
  const out: Array<{ name: string; labels: Record<string, string>; value: number }> = []
  for (const line of text.split("\n")) {
    if (line === "") continue
    if (line.startsWith("#")) {
      assert.match(line, /^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+$/, line)
      continue
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*)\})? (-?[0-9.e+-]+|NaN|\+Inf|-Inf)$/.exec(line)
    assert.isNotNull(m, `not a Prometheus sample: ${line}`)
    const labels: Record<string, string> = {}
    for (const [, k, v] of (m![2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[k!] = v!
    out.push({ name: m![1]!, labels, value: Number(m![3]) })
  }
  return out
}

describe("metricsRouter", () => {
  let jobs: Jobtrack.Jobtrack
  let server: Server
  let base: string
  const secret = "scrape-secret"

  beforeAll(async () => {
    jobs = Jobtrack.make({
      store: MemoryStore.layer,
      definitions: [work],
      runner: { pollInterval: "50 millis" },
      telemetry: { depthInterval: "1 hour" }
    })
    const app = new Koa()
    const metrics = metricsRouter({ tracker: jobs, authorize: (ctx) => ctx.get("authorization") === `Bearer ${secret}` })
    const strict = metricsRouter({ path: "/metrics-403", denied: 403, authorize: () => false })
    const api = jobsRouter(jobs, { prefix: "/jobs", owner: () => "ann" })
    app.use(metrics.routes()).use(strict.routes()).use(api.routes())
    server = app.listen(0, "127.0.0.1")
    await new Promise<void>((resolve) => server.once("listening", resolve))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  afterAll(async () => {
    await jobs?.close()
    await new Promise((resolve) => server?.close(resolve))
  })

  it("serves Prometheus text whose counters match the jobs run; depth sampled at scrape", async () => {
    await jobs.start()
    const ids = []
    for (const fail of [false, false, false, true]) ids.push((await jobs.enqueue(work, { fail }, { owner: "ann" })).job.id)
    for (const id of ids) for await (const _ of jobs.watch(id)) { /* until terminal */ }
    await jobs.stop()
    // one left pending: the depth gauge counts it
    await jobs.enqueue(work, { fail: false })

    const res = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${secret}` } })
    assert.strictEqual(res.status, 200)
    assert.match(res.headers.get("content-type")!, /^text\/plain; version=0\.0\.4/)
    const samples = parse(await res.text())
    const of = (name: string, labels: Record<string, string> = {}) =>
      samples.filter((s) => s.name === name && s.labels["type"] === type && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
        .reduce((n, s) => n + s.value, 0)
    assert.strictEqual(of(Telemetry.names.enqueued, { queue: "default" }), 5)
    assert.strictEqual(of(Telemetry.names.started), 4)
    assert.strictEqual(of(Telemetry.names.completed), 3)
    assert.strictEqual(of(Telemetry.names.failed), 1)
    assert.strictEqual(of(Telemetry.names.retried), 0)
    assert.strictEqual(of(`${Telemetry.names.duration}_count`), 4)
    assert.strictEqual(of(`${Telemetry.names.duration}_count`, { outcome: "failed" }), 1)
    assert.strictEqual(of(Telemetry.names.depth, { status: "pending" }), 1)
    assert.strictEqual(of(Telemetry.names.depth, { status: "processing" }), 0)
    assert.strictEqual(of(Telemetry.names.running), 0)

    // the attempt's ctx.log line is on the job's status view
    const view = await (await fetch(`${base}/jobs/${ids[3]}`)).json() as { logs: Array<{ attempt: number; message: string; fields: unknown; level: string }> }
    assert.deepStrictEqual(view.logs.map((l) => [l.attempt, l.level, l.message, l.fields]), [[1, "info", "working", { fail: true }]])
  })

  it("refuses without access: 404 by default (the route is not revealed), 403 when asked; no metrics in the body", async () => {
    for (const headers of [{}, { authorization: "Bearer wrong" }]) {
      const res = await fetch(`${base}/metrics`, { headers })
      assert.strictEqual(res.status, 404)
      const body = await res.text()
      assert.notInclude(body, "jobtrack_")
      assert.deepStrictEqual(JSON.parse(body), { error: { code: "not_found", message: "not found" } })
    }
    const res = await fetch(`${base}/metrics-403`, { headers: { authorization: `Bearer ${secret}` } })
    assert.strictEqual(res.status, 403)
    assert.notInclude(await res.text(), "jobtrack_")
  })
})
