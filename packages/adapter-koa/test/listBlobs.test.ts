import type { AddressInfo } from "node:net"
import Koa from "koa"
import { Effect, Schema } from "effect"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { JobDefinition, Jobtrack, MemoryStore } from "@jobtrack/core"
import { jobsRouter } from "@jobtrack/adapter-koa"
import { call, eventually } from "./server.js"
import { consoleCall, flaky, startConsoleApp } from "./consoleServer.js"
import type { ConsoleApp } from "./consoleServer.js"

const MiB = 1024 * 1024
/** Returns 1 MiB of text. */
const bulky = JobDefinition.make({
  type: "bulky",
  payload: Schema.Struct({}),
  result: Schema.Struct({ text: Schema.String }),
  handler: () => Effect.succeed({ text: "x".repeat(MiB) })
})

describe("list pages carry no per-job blobs", () => {
  let jobs: Jobtrack.Jobtrack
  let server: ReturnType<Koa["listen"]>
  let url = ""
  let admin: ConsoleApp
  beforeAll(async () => {
    jobs = Jobtrack.make({ store: MemoryStore.layer, definitions: [bulky], runner: { concurrency: 4, pollInterval: "20 millis" } })
    await jobs.start()
    const router = jobsRouter(jobs, { prefix: "/api/jobs", owner: () => "ann", expose: [bulky] })
    server = new Koa().use(router.routes()).listen(0, "127.0.0.1")
    await new Promise<void>((resolve) => server.once("listening", resolve))
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/jobs`
    admin = await startConsoleApp()
  })
  afterAll(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
    await jobs.close()
    await admin.close()
  })

  it("jobs API: list items have no result (a page of 20 jobs of 1 MiB results is a few KB); GET /:id has it", async () => {
    const ids: Array<string> = []
    for (let i = 0; i < 20; i++) ids.push((await call(`${url}/bulky`, { method: "POST", body: {} })).body.job_id)
    await eventually(() => call(`${url}/?status=completed&limit=500`), (r) => r.body.items.length === 20)
    const res = await fetch(`${url}/?limit=500`)
    const text = await res.text()
    assert.strictEqual(res.status, 200)
    assert.isBelow(text.length, 64 * 1024)
    const page = JSON.parse(text) as { items: Array<Record<string, unknown>> }
    assert.strictEqual(page.items.length, 20)
    for (const item of page.items) {
      assert.strictEqual(item.status, "completed")
      assert.notProperty(item, "result")
    }
    const one = await call(`${url}/${ids[0]}`)
    assert.strictEqual((one.body.result as { text: string }).text.length, MiB)
  })

  it("console: list and overview items have no payload, result or errors; the job's view has them", async () => {
    // a 1 MiB payload each (the message is used only on a failure: these complete)
    const message = "y".repeat(MiB)
    const enqueued = await Promise.all(Array.from({ length: 5 }, () => admin.jobs.enqueue(flaky, { failFirst: 0, message })))
    const failing = await admin.jobs.enqueue(flaky, { failFirst: 1, message: "mailbox authentication failed" })
    await eventually(() => consoleCall(admin, "/api/jobs?type=flaky&status=completed,failed&limit=500", { user: "viewer" }), (r) => r.body.items?.length === 6)
    const res = await fetch(`${admin.url}/api/jobs?type=flaky&limit=500`, { headers: { "x-user": "viewer" } })
    const text = await res.text()
    assert.strictEqual(res.status, 200)
    // each job's payload (1 MiB) was in every item
    assert.isBelow(text.length, 64 * 1024)
    const items = JSON.parse(text).items as Array<Record<string, unknown>>
    assert.strictEqual(items.length, 6)
    for (const item of items) for (const blob of ["payload", "result", "errors"]) assert.notProperty(item, blob)
    const overview = await consoleCall(admin, "/api/overview", { user: "viewer" })
    for (const item of overview.body.running as Array<Record<string, unknown>>) {
      for (const blob of ["payload", "result", "errors"]) assert.notProperty(item, blob)
    }
    const one = await consoleCall(admin, `/api/jobs/${enqueued[0]!.job.id}`, { user: "viewer" })
    assert.strictEqual((one.body.payload as { message: string }).message.length, MiB)
    assert.deepStrictEqual(one.body.result, { run: 1 })
    const failed = await consoleCall(admin, `/api/jobs/${failing.job.id}`, { user: "viewer" })
    assert.strictEqual((failed.body.errors as Array<unknown>).length, 1)
  })
})
