import { request } from "node:http"
import { fileURLToPath } from "node:url"
import { gzipSync } from "node:zlib"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { alive, call, rawRequest, startApp, tempDir, until } from "../../testing/harness.js"
import type { RunningApp } from "../../testing/harness.js"
import { postgresUrl } from "../../../scripts/test-env.js"

// Pipelines run at a third of their demo speed: 1 hour back ≈ 0.8 s, 24 hours ≈ 3.5 s.
const main = fileURLToPath(new URL("../src/main.ts", import.meta.url))
const env = (dataDir: string) => ({ DATA_DIR: dataDir, PIPELINE_TIME_SCALE: "0.3", LEASE_SECONDS: "3" })

describe("newsletter-extraction app (its own process, on PGlite)", () => {
  const dataDir = tempDir("newsletters")
  let app: RunningApp
  beforeAll(async () => {
    app = await startApp(main, env(dataDir))
  }, 240_000)
  afterAll(async () => {
    await app.stop()
  })

  const status = (id: string, user = "ann") => call(`${app.url}/api/newsletters/extractions/${id}/status`, { user })
  const extract = (body: unknown, user = "ann") => call(`${app.url}/api/newsletters/extract`, { method: "POST", user, body })

  it("extract answers 202 at once; status shows progress through the steps; completed carries newsletters", async () => {
    // the app warmed its request path before it said it listens (the first POST is then as quick as any)
    const events = app.logs.map((l) => l.event)
    assert.isBelow(events.indexOf("app.warmed"), events.indexOf("app.listening"))
    assert.isAtLeast(events.indexOf("app.warmed"), 0)
    const res = await extract({ hours_back: 6, max_results: 20 })
    assert.strictEqual(res.status, 202)
    assert.deepStrictEqual(Object.keys(res.body).sort(), ["extraction_id", "message", "status"])
    assert.strictEqual(res.body.status, "pending")
    assert.strictEqual(res.body.message, "Extraction started")
    const id = res.body.extraction_id
    // answered before the extraction did its work: it is still under way
    assert.include(["pending", "processing"], (await status(id)).body.status)
    const messages = new Set<string>()
    const done = await until(async () => {
      const s = await status(id)
      if (s.body.progress_message) messages.add(s.body.progress_message.split("…")[0])
      return s.body
    }, (s) => s.status === "completed", 20_000, "completed")
    assert.includeMembers([...messages], ["Fetching messages", "Resolving redirect links"])
    // the pipeline's stages ran as durable steps, each once
    assert.deepStrictEqual(done.steps, ["connect", "fetch", "parse", "extract-links", "save"].map((name) => ({
      name,
      status: "completed",
      attempts: 1
    })))
    assert.isAbove(done.newsletters.length, 0)
    assert.strictEqual(done.progress, 100)
    assert.isString(done.completed_at)
    assert.isNull(done.queue_position)
    const theirs = await status(id, "bob")
    assert.strictEqual(theirs.status, 404)
    assert.deepStrictEqual(theirs.body, (await status("01900000-0000-7000-8000-000000000000", "bob")).body)
    assert.strictEqual((await call(`${app.url}/api/newsletters/extract`, { method: "POST", body: {} })).status, 401)
    const bad = await extract({ hours_back: 500, max_results: "x" })
    assert.strictEqual(bad.status, 400)
    assert.strictEqual(bad.body.error.details.issues.length, 2)
    // the completion hook is delivered at least once, shortly after the commit
    const logged = await until(
      async () => app.logs.filter((l) => l.job_id === id).map((l) => l.event),
      (e) => e.includes("job.completed"),
      10_000,
      "completion hook logged"
    )
    assert.includeMembers(logged, ["job.enqueued", "job.started", "job.completed"])
  })

  it("JSON bodies: 50 MB is a 413 without a reset, over 64 KiB chunked is a 413, malformed is a 400", async () => {
    const url = `${app.url}/api/newsletters/extract`
    const headers = { authorization: "Bearer ivy", "content-type": "application/json" }
    const MiB = 1024 * 1024
    const huge = await rawRequest(url, { headers: { ...headers, "content-length": 50 * MiB }, chunks: Array.from({ length: 50 }, () => Buffer.alloc(MiB, 32)) })
    assert.strictEqual(huge.status, 413)
    assert.strictEqual(huge.body.error.code, "payload_too_large")
    const chunked = await rawRequest(url, { headers, chunks: Array.from({ length: 4 }, () => Buffer.alloc(32 * 1024, 32)) })
    assert.strictEqual(chunked.status, 413)
    const broken = await rawRequest(url, { headers, chunks: ["{\"hours_back\":"] })
    assert.strictEqual(broken.status, 400)
    assert.strictEqual(broken.body.error.code, "invalid_input")
  })

  it("compressed bodies: one that is not the gzip it claims is a 400, never a 500; a gzip bomb is a 413; valid gzip is read", async () => {
    const url = `${app.url}/api/newsletters/extract`
    const headers = { authorization: "Bearer ivy", "content-type": "application/json", "content-encoding": "gzip" }
    const gzipped = gzipSync(JSON.stringify({ hours_back: 1, max_results: 1 }))
    // not gzip at all, a truncated stream, and 4 MiB that is not gzip (the rest is read, no reset)
    for (const chunks of [["xx"], [gzipped.subarray(0, gzipped.length - 6)], Array.from({ length: 4 }, () => Buffer.alloc(1024 * 1024, 7))]) {
      const res = await rawRequest(url, { headers, chunks })
      assert.strictEqual(res.status, 400)
      assert.deepStrictEqual(res.body, { error: { code: "invalid_input", message: "the body could not be decoded" } })
    }
    const deflated = await rawRequest(url, { headers: { ...headers, "content-encoding": "deflate" }, chunks: ["not deflate"] })
    assert.strictEqual(deflated.status, 400)
    const unknown = await rawRequest(url, { headers: { ...headers, "content-encoding": "x-unknown" }, chunks: ["{}"] })
    assert.strictEqual(unknown.status, 415)
    assert.strictEqual(unknown.body.error.code, "unsupported_media_type")
    // 64 MiB of spaces in 64 KiB of gzip: refused once 64 KiB are decompressed
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024, 32), { level: 9 })
    const big = await rawRequest(url, { headers, chunks: [bomb] })
    assert.strictEqual(big.status, 413)
    assert.strictEqual(big.body.error.code, "payload_too_large")
    const ok = await rawRequest(url, { headers, chunks: [gzipped] })
    assert.strictEqual(ok.status, 202)
    assert.strictEqual((await call(`${app.url}/api/jobs/${ok.body.extraction_id}/cancel`, { method: "POST", user: "ivy" })).status, 202)
  })

  it("a truncated gzip bomb and an abandoned gzip body are answered (400 or 413) and the process lives on", async () => {
    const url = `${app.url}/api/newsletters/extract`
    const headers = { authorization: "Bearer ivy", "content-type": "application/json", "content-encoding": "gzip" }
    // 50 MB of zeros in ~50 KB: a 100-byte prefix is over the 64 KiB limit once decompressed, and truncated
    const bomb = gzipSync(Buffer.alloc(50 * 1024 * 1024), { level: 9 })
    const send = (body: Uint8Array) =>
      fetch(url, { method: "POST", headers, body, signal: AbortSignal.timeout(5_000) })
        .then(async (res) => ({ status: res.status, body: (await res.json()) as { extraction_id: string } }))
    for (const n of [60, 100, 120, 300, 5_000]) {
      const r = await send(bomb.subarray(0, n))
      assert.include([400, 413], r.status, `prefix of ${n} bytes`)
    }
    assert.strictEqual((await send(bomb)).status, 413)
    // a client that sends part of a gzip body, then leaves
    const left = request(url, { method: "POST", headers: { ...headers, "content-length": bomb.length } })
    const closed = new Promise<void>((resolve) => left.once("close", () => resolve()))
    left.on("error", () => {})
    left.write(bomb.subarray(0, 2_000), () => left.destroy())
    await closed
    const ok = await send(gzipSync(JSON.stringify({ hours_back: 1, max_results: 1 })))
    assert.strictEqual(ok.status, 202)
    assert.strictEqual((await call(`${app.url}/api/jobs/${ok.body.extraction_id}/cancel`, { method: "POST", user: "ivy" })).status, 202)
    assert.isTrue(alive(app.process.pid!))
    assert.isNull(app.process.exitCode)
  })

  it("at most 2 running extractions per user; the others wait and show their queue position", async () => {
    const ids: Array<string> = []
    for (let i = 0; i < 3; i++) ids.push((await extract({ hours_back: 12, max_results: 50 }, "carla")).body.extraction_id)
    const other = (await extract({ hours_back: 1, max_results: 5 }, "dan")).body.extraction_id
    const views = await until(
      () => Promise.all(ids.map((id) => status(id, "carla").then((r) => r.body))),
      (vs) => vs.filter((v) => v.status === "processing").length === 2,
      10_000,
      "two running"
    )
    const waiting = views.find((v) => v.status === "pending")!
    assert.isAtLeast(waiting.queue_position, 1)
    assert.isFalse(waiting.queue_position_capped)
    // another user is not held back by carla's limit
    await until(() => status(other, "dan").then((r) => r.body), (v) => v.status === "completed", 10_000, "dan's done")
    // sampled on every poll until all three are done, not for a guessed while
    await until(
      async () => {
        const vs = await Promise.all(ids.map((id) => status(id, "carla").then((r) => r.body)))
        assert.isAtMost(vs.filter((v) => v.status === "processing").length, 2)
        return vs.map((v) => v.status)
      },
      (s) => s.every((x) => x === "completed"),
      30_000,
      "all three done"
    )
  })

  it("cancel kills the pipeline process; a cancelled extraction can be retried and completes", async () => {
    const id = (await extract({ hours_back: 60, max_results: 100 }, "erin")).body.extraction_id
    // past 1%: in the fetch stage (the connect stage's process has ended)
    await until(() => status(id, "erin").then((r) => r.body), (v) => v.status === "processing" && v.progress > 1, 10_000, "running")
    const pids = app.children(/pipeline/)
    assert.strictEqual(pids.length, 1)
    const cancel = await call(`${app.url}/api/jobs/${id}/cancel`, { method: "POST", user: "erin" })
    assert.strictEqual(cancel.status, 202)
    await until(async () => alive(pids[0]!), (a) => !a, 1_000, "pipeline killed")
    await until(() => status(id, "erin").then((r) => r.body.status), (s) => s === "cancelled", 5_000, "cancelled")
    const retry = await call(`${app.url}/api/jobs/${id}/retry`, { method: "POST", user: "erin" })
    assert.strictEqual(retry.status, 202)
    assert.strictEqual(retry.body.extraction_id, id)
    await until(() => status(id, "erin").then((r) => r.body.status), (s) => s === "completed", 40_000, "completed after retry")
  })

  it("a failing mailbox is retried once, then failed with its error; retry runs it again", async () => {
    const id = (await extract({ hours_back: 1, max_results: 5, senders: ["fail@example.com"] }, "finn")).body.extraction_id
    const failed = await until(() => call(`${app.url}/api/jobs/${id}`, { user: "finn" }).then((r) => r.body), (v) => v.status === "failed", 20_000, "failed")
    assert.strictEqual(failed.attempts, 2)
    assert.match(failed.error_message, /mailbox authentication failed for fail@example.com/)
    const s = await status(id, "finn")
    assert.match(s.body.error_message, /mailbox authentication failed/)
    assert.notProperty(s.body, "newsletters")
    const retry = await call(`${app.url}/api/jobs/${id}/retry`, { method: "POST", user: "finn" })
    assert.strictEqual(retry.status, 202)
    assert.strictEqual(retry.body.status, "pending")
    await until(() => call(`${app.url}/api/jobs/${id}`, { user: "finn" }).then((r) => r.body), (v) => v.status === "failed", 20_000, "failed again")
    await until(
      async () => app.logs.some((l) => l.event === "job.failed" && l.job_id === id),
      (logged) => logged,
      10_000,
      "failure hook logged"
    )
  })
})

describe("newsletter-extraction app restarted in the middle of a job", () => {
  it("the job is handed back on shutdown, its process killed, and completes after the restart", async () => {
    const dataDir = tempDir("newsletters-restart")
    let app = await startApp(main, env(dataDir))
    try {
      const id = (await call(`${app.url}/api/newsletters/extract`, { method: "POST", user: "gus", body: { hours_back: 40, max_results: 50 } })).body
        .extraction_id
      await until(
        () => call(`${app.url}/api/newsletters/extractions/${id}/status`, { user: "gus" }).then((r) => r.body),
        (v) => v.progress > 10,
        10_000,
        "under way"
      )
      const pids = app.children(/pipeline/)
      assert.isAbove(pids.length, 0)
      assert.strictEqual(await app.stop("SIGTERM"), 0)
      for (const pid of pids) assert.isFalse(alive(pid))
      app = await startApp(main, env(dataDir))
      const done = await until(
        () => call(`${app.url}/api/newsletters/extractions/${id}/status`, { user: "gus" }).then((r) => r.body),
        (v) => v.status === "completed",
        30_000,
        "completed after restart"
      )
      assert.isAbove(done.newsletters.length, 0)
      // the stage that finished before the shutdown was not run again after the restart
      assert.deepStrictEqual(done.steps[0], { name: "connect", status: "completed", attempts: 1 })
      assert.deepStrictEqual(done.steps.map((s: { name: string }) => s.name), ["connect", "fetch", "parse", "extract-links", "save"])
    } finally {
      await app.stop()
    }
  }, 240_000)
})

describe.skipIf(!postgresUrl())("newsletter-extraction app on PostgreSQL (DATABASE_URL)", { tags: ["postgres"] }, () => {
  it("runs an extraction end to end on the server, in its own schema", async () => {
    const schema = `newsletters_test_${Math.random().toString(36).slice(2, 8)}`
    const app = await startApp(main, {
      DATABASE_URL: postgresUrl()!,
      JOBTRACK_SCHEMA: schema,
      PIPELINE_TIME_SCALE: "0.3"
    })
    try {
      assert.strictEqual(app.logs.find((l) => l.event === "app.listening")!.store, "postgresql")
      const id = (await call(`${app.url}/api/newsletters/extract`, { method: "POST", user: "hana", body: { hours_back: 3, max_results: 10 } })).body
        .extraction_id
      const done = await until(
        () => call(`${app.url}/api/newsletters/extractions/${id}/status`, { user: "hana" }).then((r) => r.body),
        (v) => v.status === "completed",
        20_000,
        "completed on PostgreSQL"
      )
      assert.isAbove(done.newsletters.length, 0)
    } finally {
      await app.stop()
      const { default: pg } = await import("pg")
      const client = new pg.Client({ connectionString: postgresUrl() })
      await client.connect()
      await client.query(`drop schema if exists "${schema}" cascade`)
      await client.end()
    }
  }, 240_000)
})
