/**
 * The jobs router refuses query parameters it does not read: `?stauts=failed`
 * (a typo) was a silent list of every job. Each route answers 400
 * `invalid_input` naming every unknown parameter and every bad value at once.
 */
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { call, startApp } from "./server.js"
import type { App } from "./server.js"

let app: App
beforeAll(async () => {
  app = await startApp()
})
afterAll(() => app.close())

const paths = (body: { error: { details: { issues: Array<{ path: Array<string> }> } } }) =>
  body.error.details.issues.map((i) => i.path.join("."))

describe("jobs router: unknown query parameters", () => {
  it("GET / names an unknown parameter instead of listing everything", async () => {
    await call(`${app.url}/steps`, { method: "POST", owner: "qp", body: { steps: 1, stepMs: 1, fail: true } })
    const res = await call(`${app.url}?stauts=failed`, { owner: "qp" })
    assert.strictEqual(res.status, 400)
    assert.strictEqual(res.body.error.code, "invalid_input")
    assert.deepStrictEqual(paths(res.body), ["stauts"])
    assert.include(res.body.error.details.issues[0].message, "status, type, key, limit, cursor")
  })

  it("GET / lists every unknown parameter and every bad value in one answer", async () => {
    const res = await call(`${app.url}?stauts=failed&verbose=1&status=nope&limit=0&cursor=x&type=a&type=b`, { owner: "qp" })
    assert.strictEqual(res.status, 400)
    assert.sameMembers(paths(res.body), ["stauts", "verbose", "status", "limit", "cursor", "type"])
  })

  it("GET / still reads its own parameters, status also given twice", async () => {
    const res = await call(`${app.url}?status=failed&status=cancelled&type=steps&limit=5`, { owner: "qp" })
    assert.strictEqual(res.status, 200)
    assert.isArray(res.body.items)
  })

  it("GET /stats reads only type", async () => {
    assert.strictEqual((await call(`${app.url}/stats?type=steps`, { owner: "qp" })).status, 200)
    const res = await call(`${app.url}/stats?status=failed`, { owner: "qp" })
    assert.strictEqual(res.status, 400)
    assert.deepStrictEqual(paths(res.body), ["status"])
  })

  it("the per-job routes take no parameter but events' last_event_id", async () => {
    const created = await call(`${app.url}/steps`, { method: "POST", owner: "qp", body: { steps: 1, stepMs: 1 } })
    const id = created.body.job_id as string
    assert.strictEqual((await call(`${app.url}/${id}`, { owner: "qp" })).status, 200)
    const get = await call(`${app.url}/${id}?include=result`, { owner: "qp" })
    assert.strictEqual(get.status, 400)
    assert.deepStrictEqual(paths(get.body), ["include"])
    const cancel = await call(`${app.url}/${id}/cancel?force=1`, { method: "POST", owner: "qp" })
    assert.strictEqual(cancel.status, 400)
    const events = await fetch(`${app.url}/${id}/events?lastEventId=x`, { headers: { authorization: "Bearer qp" } })
    assert.strictEqual(events.status, 400)
    assert.deepStrictEqual(paths((await events.json()) as Parameters<typeof paths>[0]), ["lastEventId"])
    const resumed = await fetch(`${app.url}/${id}/events?last_event_id=0-0`, { headers: { authorization: "Bearer qp" } })
    assert.strictEqual(resumed.status, 200)
    await resumed.body?.cancel()
    const enqueue = await call(`${app.url}/steps?priority=9`, { method: "POST", owner: "qp", body: { steps: 1, stepMs: 1 } })
    assert.strictEqual(enqueue.status, 400)
    assert.deepStrictEqual(paths(enqueue.body), ["priority"])
  })
})

describe("jobs router: parameters the host reads itself", () => {
  it("hostQueryParameters are left out of every route's check", async () => {
    const hosted = await startApp("/api/jobs", { hostQueryParameters: ["access_token"] })
    try {
      assert.strictEqual((await call(`${hosted.url}?access_token=t&limit=5`, { owner: "qp" })).status, 200)
      assert.strictEqual((await call(`${hosted.url}/stats?access_token=t`, { owner: "qp" })).status, 200)
      const created = await call(`${hosted.url}/steps`, { method: "POST", owner: "qp", body: { steps: 1, stepMs: 1 } })
      assert.strictEqual((await call(`${hosted.url}/${created.body.job_id as string}?access_token=t`, { owner: "qp" })).status, 200)
      // any other parameter is still refused
      const res = await call(`${hosted.url}?access_token=t&verbose=1`, { owner: "qp" })
      assert.strictEqual(res.status, 400)
      assert.deepStrictEqual(paths(res.body), ["verbose"])
    } finally {
      await hosted.close()
    }
  })
})
