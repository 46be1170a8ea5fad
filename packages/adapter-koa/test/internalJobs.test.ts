import type { AddressInfo } from "node:net"
import Koa from "koa"
import { Effect, Schema } from "effect"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { JobDefinition, JobId, JobStore, Jobtrack, MemoryStore } from "@jobtrack/core"
import { ConsoleBulk, ConsoleInput, jobsConsole, jobsRouter } from "@jobtrack/adapter-koa"
import type { JobsConsole } from "@jobtrack/adapter-koa"
import { call, eventually } from "./server.js"

/** Never run here: stays pending until the console's bulk job cancels it. */
const idle = JobDefinition.make({ type: "idle", payload: Schema.Struct({ n: Schema.Number }), handler: () => Effect.void })
const missing = "01900000-0000-7000-8000-000000000000"
const routes = [["GET", ""], ["POST", "/cancel"], ["POST", "/retry"], ["DELETE", ""], ["GET", "/events"]] as const

describe("jobtrack's own jobs (the console's bulk jobs) through the jobs API", () => {
  let jobs: Jobtrack.Jobtrack
  let admin: JobsConsole
  let server: ReturnType<Koa["listen"]>
  let origin = ""
  beforeAll(async () => {
    jobs = Jobtrack.make({ store: MemoryStore.layer, definitions: [], runner: { concurrency: 2, pollInterval: "50 millis" } })
    await jobs.start()
    const api = jobsRouter(jobs, {
      prefix: "/api/jobs",
      allowAnonymous: true,
      owner: (ctx) => ctx.get("x-owner") || undefined,
      expose: [idle]
    })
    admin = jobsConsole(jobs, {
      prefix: "/admin/jobs",
      access: (ctx) => (ctx.get("x-user") === "admin" ? { actor: "admin@example.com", actions: ConsoleInput.allActions } : null)
    })
    const app = new Koa().use(api.routes()).use(api.allowedMethods()).use(admin.routes())
    server = app.listen(0, "127.0.0.1")
    await new Promise<void>((resolve) => server.once("listening", resolve))
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  afterAll(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
    await admin.close()
    await jobs.close()
  })

  it("an anonymous caller neither lists, counts, reads, streams nor changes a bulk job; a reserved owner is refused", async () => {
    // another tenant's pending jobs, cancelled by an operator's action by filter
    await jobs.enqueueMany(idle, [1, 2, 3].map((n) => ({ payload: { n }, options: { owner: "tenant-b" } })))
    const headers = { "x-user": "admin" }
    const token = (await call(`${origin}/admin/jobs/api/me`, { headers })).body.token as string
    const bulk = await call(`${origin}/admin/jobs/api/bulk`, {
      method: "POST",
      headers: { ...headers, "x-console-token": token },
      body: { action: "cancel", filter: { type: "idle", status: "pending" } }
    })
    assert.strictEqual(bulk.status, 202)
    const bulkId = bulk.body.job_id as string
    await eventually(() => call(`${origin}/admin/jobs/api/jobs/${bulkId}`, { headers }), (r) => r.body.status === "completed", 15_000)

    const anonymous = `${origin}/api/jobs`
    const listed = await call(`${anonymous}/`)
    assert.strictEqual(listed.status, 200)
    assert.deepStrictEqual(listed.body.items, [])
    const stats = await call(`${anonymous}/stats`)
    assert.strictEqual(stats.status, 200)
    assert.deepStrictEqual(stats.body.by_type, [])
    assert.strictEqual(Object.values(stats.body.counts as Record<string, number>).reduce((a, b) => a + b, 0), 0)
    for (const [method, suffix] of routes) {
      const theirs = await call(`${anonymous}/${bulkId}${suffix}`, { method })
      const unknown = await call(`${anonymous}/${missing}${suffix}`, { method })
      assert.strictEqual(theirs.status, 404, `${method} ${suffix}`)
      assert.deepStrictEqual(theirs.body, unknown.body)
    }
    // still there, untouched
    const after = await call(`${origin}/admin/jobs/api/jobs/${bulkId}`, { headers })
    assert.strictEqual(after.body.status, "completed")

    // no caller can be the reserved owner
    for (const [method, suffix] of [["GET", "/"], ["GET", "/stats"], ["GET", `/${bulkId}`], ["DELETE", `/${bulkId}`]] as const) {
      const r = await call(`${anonymous}${suffix}`, { method, headers: { "x-owner": ConsoleBulk.owner } })
      assert.strictEqual(r.status, 403, `${method} ${suffix}`)
      assert.strictEqual(r.body.error.code, "forbidden")
    }
  })

  it("a bulk job enqueued before it had an owner (owner null) is not an anonymous caller's either", async () => {
    const id = JobId.make(Date.now())
    await jobs.runtime.runPromise(Effect.flatMap(Effect.service(JobStore), (store) =>
      store.enqueue({
        id,
        type: ConsoleBulk.type,
        queue: ConsoleBulk.queue,
        payload: { action: "cancel", filter: { type: "nothing" }, actor: "admin@example.com" },
        maxAttempts: 1,
        priority: 0,
        runAt: new Date(Date.now() + 3_600_000),
        owner: null,
        key: null,
        groupKey: null,
        groupLimit: null
      })))
    const listed = await call(`${origin}/api/jobs/`)
    assert.notInclude((listed.body.items as Array<{ id: string }>).map((j) => j.id), id)
    for (const [method, suffix] of routes) {
      assert.strictEqual((await call(`${origin}/api/jobs/${id}${suffix}`, { method })).status, 404, `${method} ${suffix}`)
    }
  })
})
