import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { call, eventually, startApp } from "./server.js"
import type { App } from "./server.js"

const missing = "01900000-0000-7000-8000-000000000000"
const routes = [["GET", ""], ["POST", "/cancel"], ["POST", "/retry"], ["DELETE", ""], ["GET", "/events"]] as const

for (const store of ["memory", "pglite"] as const) {
  describe(`keyed enqueue across owners, over the ${store} store`, () => {
    let app: App
    beforeAll(async () => {
      app = await startApp("/api/jobs", {}, store)
    }, 120_000)
    afterAll(() => app.close())

    it("an owner enqueuing with another owner's key gets a job of its own; nothing of the other's job is revealed", async () => {
      const body = { steps: 100, stepMs: 100, key: "s3://bucket/shared.pdf" }
      const ann = await call(`${app.url}/steps`, { method: "POST", owner: "ann", body })
      assert.strictEqual(ann.status, 202)
      const bob = await call(`${app.url}/steps`, { method: "POST", owner: "bob", body })
      assert.strictEqual(bob.status, 202)
      assert.strictEqual(bob.body.message, "Job enqueued")
      assert.notStrictEqual(bob.body.job_id, ann.body.job_id)
      assert.notInclude(JSON.stringify(bob.body), ann.body.job_id)
      // each owner's repeat dedupes onto its own job
      for (const [owner, first] of [["ann", ann], ["bob", bob]] as const) {
        const again = await call(`${app.url}/steps`, { method: "POST", owner, body })
        assert.strictEqual(again.status, 200)
        assert.strictEqual(again.body.job_id, first.body.job_id)
      }
      const listed = await call(`${app.url}/?key=${encodeURIComponent(body.key)}`, { owner: "bob" })
      assert.deepStrictEqual(listed.body.items.map((i: { id: string }) => i.id), [bob.body.job_id])
      // ann's job answers bob like an unknown id, on every route
      for (const [method, suffix] of routes) {
        const theirs = await call(`${app.url}/${ann.body.job_id}${suffix}`, { method, owner: "bob" })
        const unknown = await call(`${app.url}/${missing}${suffix}`, { method, owner: "bob" })
        assert.strictEqual(theirs.status, 404, `${method} ${suffix}`)
        assert.deepStrictEqual(theirs.body, unknown.body)
      }
      for (const [owner, job] of [["ann", ann], ["bob", bob]] as const) {
        await call(`${app.url}/${job.body.job_id}/cancel`, { method: "POST", owner })
        await eventually(() => call(`${app.url}/${job.body.job_id}`, { owner }), (r) => r.body.status === "cancelled")
      }
    })
  })
}

describe("otherOwner: \"forbidden\"", () => {
  let app: App
  beforeAll(async () => {
    app = await startApp("/api/jobs", { otherOwner: "forbidden" })
  })
  afterAll(() => app.close())

  it("answers 403 for another owner's job on every route, 404 for an unknown id, and changes nothing", async () => {
    const ann = await call(`${app.url}/flaky`, { method: "POST", owner: "ann", body: {} })
    await eventually(() => call(`${app.url}/${ann.body.job_id}`, { owner: "ann" }), (r) => r.body.status === "failed")
    for (const [method, suffix] of routes) {
      const r = await call(`${app.url}/${ann.body.job_id}${suffix}`, { method, owner: "bob" })
      assert.strictEqual(r.status, 403, `${method} ${suffix}`)
      assert.strictEqual(r.body.error.code, "forbidden")
      assert.strictEqual((await call(`${app.url}/${missing}${suffix}`, { method, owner: "bob" })).status, 404)
    }
    const view = await call(`${app.url}/${ann.body.job_id}`, { owner: "ann" })
    assert.strictEqual(view.body.status, "failed")
  })
})
