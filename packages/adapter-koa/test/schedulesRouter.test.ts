import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import Koa from "koa"
import { Effect, Layer, Schema } from "effect"
import { JobDefinition, JobSchedule, JobStore, Jobtrack, MemoryStore } from "@jobtrack/core"
import { schedulesRouter } from "@jobtrack/adapter-koa"
import type { ScheduleAccess } from "@jobtrack/adapter-koa"
import { pglite } from "@jobtrack/adapter-kysely"
import { call } from "./server.js"

const report = JobDefinition.make({ type: "report", payload: Schema.Struct({ account: Schema.String }), handler: () => Effect.void })

/** Access by bearer token: "op" sees and manages all, "viewer" sees all, an owner sees theirs, "ann-admin" manages ann's. */
const access = (token: string): ScheduleAccess | null => {
  if (token === "op") return { sees: "all", manage: true }
  if (token === "viewer") return { sees: "all" }
  if (token === "ann-admin") return { sees: { owner: "ann" }, manage: true }
  if (token === "") return null
  return { sees: { owner: token } }
}

for (const kind of ["memory", "pglite"] as const) {
  describe(`schedules over HTTP, ${kind} store`, () => {
    let jobs: Jobtrack.Jobtrack
    let server: ReturnType<typeof createServer>
    let url: string
    beforeAll(async () => {
      jobs = Jobtrack.make({
        store: kind === "memory"
          ? MemoryStore.layer
          : Layer.effect(JobStore, Effect.orDie(pglite())),
        definitions: [report],
        schedules: [
          JobSchedule.make({ name: "ann-daily", cron: "0 6 * * *", timeZone: "Europe/Berlin", definition: report, payload: { account: "ann" }, owner: "ann" }),
          JobSchedule.make({ name: "bob-hourly", cron: "0 * * * *", definition: report, payload: { account: "bob" }, owner: "bob" })
        ]
      })
      await jobs.schedules.list() // the store is up (PGlite starts and migrates) before the first request
      const app = new Koa()
      const router = schedulesRouter(jobs, {
        prefix: "/admin/schedules",
        access: (ctx) => access(ctx.get("authorization").replace(/^Bearer /, ""))
      })
      app.use(router.routes()).use(router.allowedMethods())
      server = createServer(app.callback())
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r))
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/admin/schedules`
    }, 120_000)
    afterAll(async () => {
      await new Promise((r) => server.close(r))
      await jobs.close()
    })
    const post = (path: string, owner: string, headers: Record<string, string> = {}) =>
      call(`${url}${path}`, { method: "POST", owner, body: {}, headers })

    it("an operator lists every schedule with its next runs; an owner only theirs", async () => {
      const all = await call(`${url}/`, { owner: "viewer" })
      assert.strictEqual(all.status, 200)
      assert.deepStrictEqual(all.body.items.map((s: { name: string }) => s.name), ["ann-daily", "bob-hourly"])
      const ann = all.body.items[0]
      assert.strictEqual(ann.cron, "0 6 * * *")
      assert.strictEqual(ann.time_zone, "Europe/Berlin")
      assert.strictEqual(ann.type, "report")
      assert.isFalse(ann.paused)
      assert.strictEqual(ann.next_runs.length, 5)
      assert.strictEqual(ann.next_run_at, ann.next_runs[0])
      // 06:00 in Berlin is 04:00 or 05:00 UTC
      assert.match(ann.next_run_at, /T0[45]:00:00\.000Z$/)
      const bobs = await call(`${url}/`, { owner: "bob" })
      assert.deepStrictEqual(bobs.body.items.map((s: { name: string }) => s.name), ["bob-hourly"])
    })

    it("another owner's schedule answers like an unknown name, on every route; no access is a 404 everywhere", async () => {
      const unknown = await call(`${url}/nope`, { owner: "bob" })
      assert.strictEqual(unknown.status, 404)
      for (const [method, suffix] of [["GET", ""], ["POST", "/pause"], ["POST", "/resume"], ["POST", "/trigger"]] as const) {
        const theirs = await call(`${url}/ann-daily${suffix}`, { method, owner: "bob", ...(method === "POST" ? { body: {} } : {}) })
        const none = await call(`${url}/nope${suffix}`, { method, owner: "bob", ...(method === "POST" ? { body: {} } : {}) })
        assert.strictEqual(theirs.status, 404, `${method} ${suffix}`)
        assert.deepStrictEqual(theirs.body, none.body)
      }
      const anonymous = await call(`${url}/`)
      assert.strictEqual(anonymous.status, 404)
      assert.isFalse((await jobs.schedules.get("ann-daily")).paused)
    })

    it("pause, resume and trigger need manage; trigger enqueues the schedule's job", async () => {
      const refused = await post("/ann-daily/pause", "viewer")
      assert.strictEqual(refused.status, 403)
      assert.isFalse((await jobs.schedules.get("ann-daily")).paused)

      const paused = await post("/ann-daily/pause", "ann-admin")
      assert.strictEqual(paused.status, 200)
      assert.isTrue(paused.body.paused)
      assert.isNull(paused.body.next_run_at)
      assert.isTrue((await call(`${url}/ann-daily`, { owner: "ann" })).body.paused)

      const resumed = await post("/ann-daily/resume", "op")
      assert.isFalse(resumed.body.paused)
      assert.isString(resumed.body.next_run_at)

      const triggered = await post("/bob-hourly/trigger", "op")
      assert.strictEqual(triggered.status, 202)
      const job = await jobs.get(triggered.body.job_id)
      assert.strictEqual(job.owner, "bob")
      assert.deepStrictEqual(job.payload, { account: "bob" })
      // ann's admin cannot reach bob's schedule
      assert.strictEqual((await post("/bob-hourly/trigger", "ann-admin")).status, 404)
    })

    it("mutations from another site or without a JSON body are refused", async () => {
      const crossSite = await post("/bob-hourly/pause", "op", { "sec-fetch-site": "cross-site" })
      assert.strictEqual(crossSite.status, 403)
      const form = await call(`${url}/bob-hourly/pause`, {
        method: "POST",
        owner: "op",
        body: "a=1",
        headers: { "content-type": "application/x-www-form-urlencoded" }
      })
      assert.strictEqual(form.status, 403)
      assert.isFalse((await jobs.schedules.get("bob-hourly")).paused)
    })
  })
}
