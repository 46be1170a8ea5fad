import type { AddressInfo } from "node:net"
import type { Server } from "node:http"
import Koa from "koa"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { z } from "zod"
import { JobDefinition, Jobtrack, MemoryStore } from "@jobtrack/core"
import { jobsRouter } from "@jobtrack/adapter-koa"
import { call } from "./server.js"

/** A Zod payload with an async refinement (a lookup the host makes), at the HTTP edge. */
const taken = new Set(["taken@example.com"])
const invite = JobDefinition.make({
  type: "invite",
  payload: z.object({
    email: z.email().refine(async (e) => {
      await new Promise((r) => setTimeout(r, 1))
      return !taken.has(e)
    }, "already a member"),
    team: z.string().min(2),
    seats: z.number().int().positive()
  }),
  run: async ({ email }) => ({ invited: email })
})

describe("a Standard Schema (Zod) payload at the HTTP edge", () => {
  let jobs: Jobtrack.Jobtrack
  let server: Server
  let url: string
  beforeAll(async () => {
    jobs = Jobtrack.make({ store: MemoryStore.layer, definitions: [invite], runner: { pollInterval: "20 millis" } })
    await jobs.start()
    const router = jobsRouter(jobs, { owner: (ctx) => ctx.get("authorization").slice(7) || undefined, expose: [invite] })
    server = new Koa().use(router.routes()).use(router.allowedMethods()).listen(0, "127.0.0.1")
    await new Promise((r) => server.once("listening", r))
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  afterAll(async () => {
    server.closeAllConnections()
    await new Promise((r) => server.close(r))
    await jobs.close()
  })

  it("400 lists every issue with its path, the async refinement's included; nothing is stored", async () => {
    const res = await call(`${url}/invite`, { method: "POST", owner: "ann", body: { email: "taken@example.com", team: "x", seats: 0 } })
    assert.strictEqual(res.status, 400)
    assert.strictEqual(res.body.error.code, "invalid_input")
    const issues: Array<{ path: Array<string | number>; message: string }> = res.body.error.details.issues
    assert.deepStrictEqual(issues.map((i) => i.path.join(".")).sort(), ["payload.email", "payload.seats", "payload.team"])
    assert.strictEqual(issues.find((i) => i.path[1] === "email")!.message, "already a member")
    assert.strictEqual((await jobs.list({ owner: "ann" })).items.length, 0)
  })

  it("a valid body is accepted (202) and the job completes with its result", async () => {
    const res = await call(`${url}/invite`, { method: "POST", owner: "ann", body: { email: "new@example.com", team: "core", seats: 2 } })
    assert.strictEqual(res.status, 202)
    for await (const view of jobs.watch(res.body.job_id)) {
      if (view.status === "completed") assert.deepStrictEqual(view.result, { invited: "new@example.com" })
    }
    assert.strictEqual((await jobs.get(res.body.job_id)).status, "completed")
  })
})
