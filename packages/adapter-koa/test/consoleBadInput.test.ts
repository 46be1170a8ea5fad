import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { consoleCall, startConsoleApp } from "./consoleServer.js"
import type { ConsoleApp } from "./consoleServer.js"

const cursor = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url")
const paths = (body: { error: { details?: { issues: Array<{ path: Array<string> }> } } }) =>
  (body.error.details?.issues ?? []).map((i) => i.path.join("."))

describe("console: bad input is a clear 4xx, never a 5xx", () => {
  let app: ConsoleApp
  beforeAll(async () => {
    app = await startConsoleApp()
  })
  afterAll(() => app.close())

  it("a page path with a malformed escape is a 404", async () => {
    for (const path of ["/%E0%A4%A", "/assets/%E0%A4%A.js", "/%"]) {
      const res = await fetch(`${app.url}${path}`, { headers: { "x-user": "viewer" } })
      assert.strictEqual(res.status, 404, path)
      assert.strictEqual(((await res.json()) as { error: { code: string } }).error.code, "not_found")
    }
  })

  it("a cursor whose time no date can hold is a 400 naming the cursor", async () => {
    const id = "01900000-0000-7000-8000-000000000000"
    for (const at of [1e20, -1e20, 8.64e15 + 1, 253402300800000]) {
      const r = await consoleCall(app, `/api/jobs?cursor=${cursor([at, id])}`, { user: "viewer" })
      assert.strictEqual(r.status, 400, String(at))
      assert.deepStrictEqual(paths(r.body), ["cursor"])
    }
    // a real one still works
    const ok = await consoleCall(app, `/api/jobs?cursor=${cursor([Date.UTC(2026, 0, 1), id])}`, { user: "viewer" })
    assert.strictEqual(ok.status, 200)
  })

  it("dates outside the years 0001-9999 are a 400 naming the field, on the list and on an action by filter", async () => {
    const bad = { created_from: "0000-01-01", finished_to: "9999-12-31T23:59:59-05:00" }
    const list = await consoleCall(app, `/api/jobs?${new URLSearchParams(bad)}`, { user: "viewer" })
    assert.strictEqual(list.status, 400)
    assert.deepStrictEqual(paths(list.body).sort(), ["created_from", "finished_to"])
    const bulk = await consoleCall(app, "/api/bulk", { user: "admin", body: { action: "cancel", filter: bad } })
    assert.strictEqual(bulk.status, 400)
    assert.deepStrictEqual(paths(bulk.body).sort(), ["created_from", "finished_to"])
    // the edges are fine
    const edges = await consoleCall(app, `/api/jobs?created_from=0001-01-01&created_to=9999-12-31T23:59:59Z`, { user: "viewer" })
    assert.strictEqual(edges.status, 200)
  })
})
