import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { call, eventually, pids, readEvents, startApp } from "./server.js"
import type { App } from "./server.js"

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

const missing = "01900000-0000-7000-8000-000000000000"

for (const [prefix, store] of [["/api/jobs", "memory"], ["", "pglite"]] as const) {
  describe(`jobsRouter mounted at "${prefix || "/"}" over the ${store} store`, () => {
    let app: App
    beforeAll(async () => {
      app = await startApp(prefix, {}, store)
    }, 120_000)
    afterAll(() => app.close())

    it("POST /:type answers 202 at once while the job runs for seconds; polling shows it progress to the result", async () => {
      const res = await call(`${app.url}/steps`, { method: "POST", owner: "ann", body: { steps: 4, stepMs: 400 } })
      assert.strictEqual(res.status, 202)
      assert.strictEqual(res.body.status, "pending")
      assert.strictEqual(res.body.message, "Job enqueued")
      const id: string = res.body.job_id
      // answered before the job did its work (4 steps of 400 ms): it is still under way
      const right = await call(`${app.url}/${id}`, { owner: "ann" })
      assert.include(["pending", "processing"], right.body.status)
      assert.isBelow(right.body.progress, 100)
      const seen: Array<{ progress: number; message: string | null; status: string }> = []
      const done = await eventually(
        async () => {
          const v = await call(`${app.url}/${id}`, { owner: "ann" })
          assert.strictEqual(v.status, 200)
          const last = seen.at(-1)
          if (!last || last.progress !== v.body.progress) {
            seen.push({ progress: v.body.progress, message: v.body.progress_message, status: v.body.status })
          }
          return v.body
        },
        (v) => v.status === "completed"
      )
      const progresses = seen.map((s) => s.progress)
      assert.deepStrictEqual(progresses, [...progresses].sort((a, b) => a - b))
      assert.isAtLeast(seen.filter((s) => s.status === "processing" && s.progress > 0).length, 2)
      assert.isTrue(seen.some((s) => s.message?.startsWith("Step ")))
      assert.deepStrictEqual(done.result, { done: 4 })
      // its durable steps, in order, on the wire
      assert.deepStrictEqual(done.steps.map((st: { name: string; status: string; attempts: number }) => [st.name, st.status, st.attempts]), [
        ["step 1", "completed", 1],
        ["step 2", "completed", 1],
        ["step 3", "completed", 1],
        ["step 4", "completed", 1]
      ])
      for (const st of done.steps) {
        assert.deepStrictEqual(Object.keys(st).sort(), ["attempts", "completed_at", "name", "started_at", "status"])
        assert.match(st.completed_at, /^\d{4}-\d\d-\d\dT.*Z$/)
      }
      for (const field of ["created_at", "started_at", "completed_at"]) assert.match(done[field], /^\d{4}-\d\d-\d\dT.*Z$/)
      assert.strictEqual(done.queue_position, null)
      assert.strictEqual(done.queue_position_capped, false)
      assert.strictEqual(done.max_attempts, 1)
    })

    it("a failed job's view carries the error and no result", async () => {
      const res = await call(`${app.url}/steps`, { method: "POST", owner: "ann", body: { steps: 1, stepMs: 10, fail: true } })
      const failed = await eventually(() => call(`${app.url}/${res.body.job_id}`, { owner: "ann" }), (r) => r.body.status === "failed")
      assert.strictEqual(failed.body.error_message, "mailbox authentication failed")
      assert.deepStrictEqual(failed.body.steps.map((st: { status: string }) => st.status), ["failed"])
      assert.notProperty(failed.body, "result")
    })

    it("400: bad JSON, wrong content type, unknown type, invalid payload (every issue) — and nothing stored", async () => {
      const before = (await call(`${app.url}/`, { owner: "zed" })).body.items.length
      const badJson = await call(`${app.url}/steps`, { method: "POST", owner: "zed", body: "{nope" })
      assert.strictEqual(badJson.status, 400)
      assert.strictEqual(badJson.body.error.code, "invalid_input")
      assert.match(badJson.body.error.message, /not valid JSON/)
      const text = await call(`${app.url}/steps`, {
        method: "POST",
        owner: "zed",
        body: "steps=1",
        headers: { "content-type": "application/x-www-form-urlencoded" }
      })
      assert.strictEqual(text.status, 400)
      assert.match(text.body.error.message, /application\/json/)
      const unknown = await call(`${app.url}/launch-rockets`, { method: "POST", owner: "zed", body: {} })
      assert.strictEqual(unknown.status, 400)
      const invalid = await call(`${app.url}/steps`, { method: "POST", owner: "zed", body: { steps: 0, stepMs: "x", label: 5 } })
      assert.strictEqual(invalid.status, 400)
      assert.deepStrictEqual(invalid.body.error.details.issues.map((i: { path: Array<string> }) => i.path.join(".")), [
        "payload.steps",
        "payload.stepMs",
        "payload.label"
      ])
      const notObject = await call(`${app.url}/steps`, { method: "POST", owner: "zed", body: [1] })
      assert.strictEqual(notObject.status, 400)
      assert.strictEqual((await call(`${app.url}/`, { owner: "zed" })).body.items.length, before)
      const badQuery = await call(`${app.url}/?limit=0&status=sleeping`, { owner: "zed" })
      assert.strictEqual(badQuery.status, 400)
      assert.strictEqual(badQuery.body.error.details.issues.length, 2)
    })

    it("413 for a body over the limit; 401 without an owner; 404 for unknown and malformed ids", async () => {
      const big = await call(`${app.url}/steps`, { method: "POST", owner: "ann", body: { steps: 1, stepMs: 1, label: "x".repeat(5000) } })
      assert.strictEqual(big.status, 413)
      assert.strictEqual(big.body.error.code, "payload_too_large")
      for (const [method, path] of [["GET", "/"], ["GET", `/${missing}`], ["POST", "/steps"], ["GET", "/stats"]] as const) {
        const r = await call(`${app.url}${path}`, { method, ...(method === "POST" ? { body: {} } : {}) })
        assert.strictEqual(r.status, 401, `${method} ${path}`)
        assert.strictEqual(r.body.error.code, "unauthorized")
      }
      for (const id of [missing, "not-a-uuid", "'; drop table jobs; --", "9".repeat(500)]) {
        for (const [method, suffix] of [["GET", ""], ["POST", "/cancel"], ["POST", "/retry"], ["DELETE", ""], ["GET", "/events"]] as const) {
          const r = await call(`${app.url}/${encodeURIComponent(id)}${suffix}`, { method, owner: "ann" })
          assert.strictEqual(r.status, 404, `${method} ${id}${suffix}`)
          assert.strictEqual(r.body.error.code, "not_found")
          assert.notInclude(JSON.stringify(r.body), "at ")
        }
      }
    })

    it("409 for invalid transitions; 204 for delete; retry of a failed job re-runs it under the same id", async () => {
      const res = await call(`${app.url}/flaky`, { method: "POST", owner: "ann", body: {} })
      const id = res.body.job_id
      const failed = await eventually(() => call(`${app.url}/${id}`, { owner: "ann" }), (r) => r.body.status === "failed")
      assert.strictEqual(failed.body.error_message, "first run fails")
      const cancel = await call(`${app.url}/${id}/cancel`, { method: "POST", owner: "ann" })
      assert.strictEqual(cancel.status, 409)
      assert.strictEqual(cancel.body.error.code, "invalid_transition")
      assert.strictEqual(cancel.body.error.details.status, "failed")
      const retried = await call(`${app.url}/${id}/retry`, { method: "POST", owner: "ann" })
      assert.strictEqual(retried.status, 202)
      assert.strictEqual(retried.body.id, id)
      const completed = await eventually(() => call(`${app.url}/${id}`, { owner: "ann" }), (r) => r.body.status === "completed")
      assert.deepStrictEqual(completed.body.result, { run: 2 })
      const again = await call(`${app.url}/${id}/retry`, { method: "POST", owner: "ann" })
      assert.strictEqual(again.status, 409)
      const running = await call(`${app.url}/steps`, { method: "POST", owner: "ann", body: { steps: 50, stepMs: 100 } })
      await eventually(() => call(`${app.url}/${running.body.job_id}`, { owner: "ann" }), (r) => r.body.status === "processing")
      const del = await call(`${app.url}/${running.body.job_id}`, { method: "DELETE", owner: "ann" })
      assert.strictEqual(del.status, 409)
      assert.strictEqual(del.body.error.details.status, "processing")
      await call(`${app.url}/${running.body.job_id}/cancel`, { method: "POST", owner: "ann" })
      const gone = await call(`${app.url}/${id}`, { method: "DELETE", owner: "ann" })
      assert.strictEqual(gone.status, 204)
      assert.strictEqual((await call(`${app.url}/${id}`, { owner: "ann" })).status, 404)
    })

    it("cancel over HTTP: 202 with cancel_requested while the job stops; its child process killed; then cancelled", async () => {
      const res = await call(`${app.url}/shell`, { method: "POST", owner: "ann", body: {} })
      const id = res.body.job_id
      const pid = await eventually(async () => pids.get(id), (p) => p !== undefined)
      assert.isTrue(alive(pid!))
      const cancel = await call(`${app.url}/${id}/cancel`, { method: "POST", owner: "ann" })
      assert.strictEqual(cancel.status, 202)
      // still running, and the view says a cancel is pending
      assert.strictEqual(cancel.body.status, "processing")
      assert.strictEqual(cancel.body.cancel_requested, true)
      await eventually(async () => alive(pid!), (a) => !a, 1000)
      const view = await eventually(() => call(`${app.url}/${id}`, { owner: "ann" }), (r) => r.body.status === "cancelled")
      assert.strictEqual(view.body.cancel_requested, false)
    })

    it("SSE: the current view at once, progress in order, heartbeats, closes after the terminal view", async () => {
      const res = await call(`${app.url}/steps`, { method: "POST", owner: "ann", body: { steps: 5, stepMs: 150 } })
      const stream = await fetch(`${app.url}/${res.body.job_id}/events`, { headers: { authorization: "Bearer ann" } })
      assert.strictEqual(stream.status, 200)
      assert.match(stream.headers.get("content-type")!, /text\/event-stream/)
      const { comments, ended, events } = await readEvents(stream)
      assert.isTrue(ended)
      assert.strictEqual(events.at(-1)!.status, "completed")
      assert.deepStrictEqual(events.at(-1)!.result, { done: 5 })
      const progress = events.map((e) => e.progress as number)
      assert.deepStrictEqual(progress, [...progress].sort((a, b) => a - b))
      assert.isAtLeast(new Set(progress.filter((p) => p > 0 && p < 100)).size, 3)
      assert.isAtLeast(comments.filter((c) => c === ": heartbeat").length, 1)
    })

    it("SSE: a client that disconnects leaves no subscription behind", async () => {
      const baseline = app.subscriptions()
      const res = await call(`${app.url}/steps`, { method: "POST", owner: "ann", body: { steps: 100, stepMs: 100 } })
      const ac = new AbortController()
      const stream = await fetch(`${app.url}/${res.body.job_id}/events`, {
        headers: { authorization: "Bearer ann" },
        signal: ac.signal
      })
      const first = await readEvents(stream, (e) => e.length >= 1)
      assert.strictEqual(first.events[0]!.id, res.body.job_id)
      assert.strictEqual(app.subscriptions(), baseline + 1)
      ac.abort()
      await eventually(async () => app.subscriptions(), (n) => n === baseline, 2000)
      await call(`${app.url}/${res.body.job_id}/cancel`, { method: "POST", owner: "ann" })
    })

    it("owner isolation: with two owners and 50 jobs each, no route returns or changes the other's job", async () => {
      const ids: Record<string, Array<string>> = { olga: [], piet: [] }
      for (const owner of ["olga", "piet"]) {
        for (let i = 0; i < 50; i++) {
          const r = await call(`${app.url}/steps`, { method: "POST", owner, body: { steps: 1, stepMs: 1, label: `${owner}-${i}` } })
          ids[owner]!.push(r.body.job_id)
        }
      }
      for (const [owner, other] of [["olga", "piet"], ["piet", "olga"]] as const) {
        const listed: Array<string> = []
        let cursor: string | null = null
        do {
          const page: { body: { items: Array<{ id: string }>; next_cursor: string | null } } = await call(
            `${app.url}/?limit=7${cursor ? `&cursor=${cursor}` : ""}`,
            { owner }
          )
          listed.push(...page.body.items.map((i) => i.id))
          cursor = page.body.next_cursor
        } while (cursor)
        assert.sameMembers(listed, ids[owner]!)
        for (const id of ids[other]!.slice(0, 10)) {
          for (const [method, suffix] of [["GET", ""], ["POST", "/cancel"], ["POST", "/retry"], ["DELETE", ""], ["GET", "/events"]] as const) {
            const r = await call(`${app.url}/${id}${suffix}`, { method, owner })
            const unknown = await call(`${app.url}/${missing}${suffix}`, { method, owner })
            // the same answer as an unknown id: existence is never revealed
            assert.strictEqual(r.status, 404, `${owner} ${method} ${suffix} of ${other}'s job`)
            assert.deepStrictEqual(r.body, unknown.body)
          }
        }
        const stats = await call(`${app.url}/stats`, { owner })
        assert.strictEqual(Object.values(stats.body.counts as Record<string, number>).reduce((a, b) => a + b, 0), 50)
      }
      for (const id of [...ids.olga!, ...ids.piet!]) assert.strictEqual((await app.jobs.get(id)).type, "steps")
    })

    it("GET /stats: counts per status and type, success rate and durations", async () => {
      const r = await call(`${app.url}/stats`, { owner: "ann" })
      assert.strictEqual(r.status, 200)
      assert.containsAllKeys(r.body.counts, ["pending", "processing", "retrying", "completed", "failed", "cancelled"])
      assert.isAbove(r.body.counts.completed, 0)
      assert.isNumber(r.body.success_rate)
      assert.isNumber(r.body.durations.p95_ms)
      assert.includeMembers(r.body.by_type.map((t: { type: string }) => t.type), ["steps", "shell"])
    })
  })
}

describe("jobsRouter when the store is down", () => {
  it("answers 503 store_unavailable, without details of the failure", async () => {
    const { Effect } = await import("effect")
    const { StoreError } = await import("@jobtrack/core")
    const { jobsRouter } = await import("@jobtrack/adapter-koa")
    const Koa = (await import("koa")).default
    const down = Effect.fail(new StoreError({ reason: "connection refused (ECONNREFUSED)", retryable: true }))
    const tracker = {
      get: () => down,
      list: () => down,
      stats: () => down,
      enqueueUnknown: () => down
    } as never
    const router = jobsRouter(tracker, { owner: () => "ann", expose: [] })
    const server = new Koa().use(router.routes()).listen(0, "127.0.0.1")
    await new Promise((r) => server.once("listening", r))
    const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`
    try {
      for (const path of ["/", `/${missing}`, "/stats"]) {
        const r = await call(`${base}${path}`, { owner: "ann" })
        assert.strictEqual(r.status, 503)
        assert.strictEqual(r.body.error.code, "store_unavailable")
        assert.notInclude(JSON.stringify(r.body), "ECONNREFUSED")
      }
    } finally {
      await new Promise((r) => server.close(r))
    }
  })
})

describe("jobsRouter when the store refuses data or fails otherwise", () => {
  it("data the store refuses is a 400, any other non-availability failure a 500; neither is a 503", async () => {
    const { Effect } = await import("effect")
    const { StoreError } = await import("@jobtrack/core")
    const { jobsRouter } = await import("@jobtrack/adapter-koa")
    const Koa = (await import("koa")).default
    let failure = new StoreError({ reason: "enqueue failed (22P05)", retryable: false, kind: "rejected" })
    const fail = () => Effect.fail(failure)
    const tracker = { get: fail, list: fail, stats: fail } as never
    const router = jobsRouter(tracker, { owner: () => "ann", expose: [] })
    const server = new Koa().use(router.routes()).listen(0, "127.0.0.1")
    await new Promise((r) => server.once("listening", r))
    const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`
    try {
      for (const [kind, status, code] of [["rejected", 400, "invalid_input"], ["internal", 500, "internal"]] as const) {
        failure = new StoreError({ reason: "enqueue failed (22P05)", retryable: false, kind })
        for (const path of ["/", `/${missing}`, "/stats"]) {
          const r = await call(`${base}${path}`, { owner: "ann" })
          assert.strictEqual(r.status, status, `${kind} ${path}`)
          assert.strictEqual(r.body.error.code, code)
          assert.notInclude(JSON.stringify(r.body), "22P05")
        }
      }
    } finally {
      await new Promise((r) => server.close(r))
    }
  })
})

describe("jobsRouter over a store that cannot start", () => {
  it("answers 503 while the store cannot start, and serves once it can", async () => {
    const { Effect, Layer } = await import("effect")
    const { Jobtrack, JobStore, MemoryStore, StoreError } = await import("@jobtrack/core")
    const { jobsRouter } = await import("@jobtrack/adapter-koa")
    const Koa = (await import("koa")).default
    let attempts = 0
    const jobs = Jobtrack.make({
      // the database is down for the first two attempts to start the store
      store: Layer.effect(
        JobStore,
        Effect.suspend(() =>
          ++attempts <= 2 ? Effect.fail(new StoreError({ reason: "could not connect", retryable: true })) : MemoryStore.make
        )
      ),
      definitions: []
    })
    const router = jobsRouter(jobs, { owner: () => "ann" })
    const server = new Koa().use(router.routes()).listen(0, "127.0.0.1")
    await new Promise((r) => server.once("listening", r))
    const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`
    try {
      for (let i = 0; i < 2; i++) {
        const r = await call(`${base}/${missing}`, { owner: "ann" })
        assert.strictEqual(r.status, 503)
        assert.strictEqual(r.body.error.code, "store_unavailable")
      }
      // it tried again on each request, and now the store is up: an unknown job is a 404
      const up = await eventually(() => call(`${base}/${missing}`, { owner: "ann" }), (r) => r.status !== 503, 5_000)
      assert.strictEqual(up.status, 404)
      assert.isAtLeast(attempts, 3)
    } finally {
      await new Promise((r) => server.close(r))
      await jobs.close().catch(() => {})
    }
  })
})

describe("jobsRouter options", () => {
  it("present reshapes views; allowAnonymous serves ownerless jobs; dedupe by key answers 200", async () => {
    const app = await startApp("/x", {
      allowAnonymous: true,
      present: (view) => {
        const { id, ...rest } = view
        return { extraction_id: id, ...rest }
      },
      expose: [{ definition: (await import("./server.js")).steps, options: (p) => ({ key: (p as { label?: string }).label }) }]
    })
    try {
      const first = await call(`${app.url}/steps`, { method: "POST", body: { steps: 3, stepMs: 200, label: "k" } })
      assert.strictEqual(first.status, 202)
      assert.strictEqual(first.body.job.extraction_id, first.body.job_id)
      const dup = await call(`${app.url}/steps`, { method: "POST", body: { steps: 3, stepMs: 200, label: "k" } })
      assert.strictEqual(dup.status, 200)
      assert.strictEqual(dup.body.job_id, first.body.job_id)
      const view = await call(`${app.url}/${first.body.job_id}`)
      assert.strictEqual(view.body.extraction_id, first.body.job_id)
      assert.notProperty(view.body, "id")
      assert.strictEqual((await call(`${app.url}/${first.body.job_id}`, { owner: "someone" })).status, 404)
      assert.strictEqual((await call(`${app.url}/flaky`, { method: "POST", body: {} })).status, 400)
    } finally {
      await app.close()
    }
  })
})
