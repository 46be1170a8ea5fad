import { fileURLToPath } from "node:url"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { call, startApp, tempDir, until } from "../../testing/harness.js"
import type { RunningApp } from "../../testing/harness.js"

const main = fileURLToPath(new URL("../src/main.ts", import.meta.url))

describe("newsletter-extraction app: the operator console at /admin/jobs", () => {
  let app: RunningApp
  beforeAll(async () => {
    app = await startApp(main, { DATA_DIR: tempDir("newsletters-console"), PIPELINE_TIME_SCALE: "0.3" })
  }, 240_000)
  afterAll(async () => {
    await app.stop()
  })
  const admin = (path: string, user: string, init: { method?: string; body?: unknown } = {}) =>
    call(`${app.url}/admin/jobs${path}`, { user, ...init })

  it("admins see every user's extractions; viewers only read; other users do not find it", async () => {
    const ann = await call(`${app.url}/api/newsletters/extract`, { method: "POST", user: "ann", body: { hours_back: 1, max_results: 5 } })
    const bob = await call(`${app.url}/api/newsletters/extract`, { method: "POST", user: "bob", body: { hours_back: 1, max_results: 5 } })
    const ids = [ann.body.extraction_id, bob.body.extraction_id]
    const list = await until(
      () => admin("/api/jobs?type=newsletter-extract&limit=100", "admin"),
      (r) => r.status === 200 && ids.every((id) => r.body.items.some((j: { id: string }) => j.id === id)),
      10_000,
      "both users' extractions listed"
    )
    assert.deepStrictEqual(new Set(list.body.items.map((j: { owner: string }) => j.owner)), new Set(["ann", "bob"]))
    // the page itself is served from the package
    const page = await fetch(`${app.url}/admin/jobs/`, { headers: { authorization: "Bearer admin" } })
    assert.strictEqual(page.status, 200)
    assert.include(await page.text(), "jobtrack console")
    // not an admin: the console does not exist for them
    assert.strictEqual((await admin("/api/jobs", "ann")).status, 404)
    assert.strictEqual((await fetch(`${app.url}/admin/jobs/`, { headers: { authorization: "Bearer ann" } })).status, 404)
    // a viewer reads, and may not act (403), even with their own token
    assert.strictEqual((await admin("/api/overview", "viewer")).status, 200)
    const refused = await admin(`/api/jobs/${ids[0]}/action`, "viewer", { method: "POST", body: { action: "cancel" } })
    assert.strictEqual(refused.status, 403)
  }, 60_000)
})
