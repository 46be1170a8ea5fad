import { request } from "node:http"
import { gzipSync } from "node:zlib"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { call, eventually, startApp } from "./server.js"
import type { App } from "./server.js"

const count = async (app: App, owner: string) => (await call(`${app.url}/?limit=500`, { owner })).body.items.length

for (const store of ["memory", "pglite"] as const) {
  describe(`input the store cannot hold, over the ${store} store`, () => {
    let app: App
    beforeAll(async () => {
      app = await startApp("/api/jobs", {}, store)
    }, 120_000)
    afterAll(() => app.close())

    it("a NUL byte or a lone surrogate in a payload string or a key is a 400 naming the field; nothing is stored", async () => {
      const before = await count(app, "nul")
      for (const label of ["a\u0000b", "\ud800", "x\udc00y", "\udbff"]) {
        const r = await call(`${app.url}/steps`, { method: "POST", owner: "nul", body: { steps: 1, stepMs: 1, label } })
        assert.strictEqual(r.status, 400, JSON.stringify(label))
        assert.strictEqual(r.body.error.code, "invalid_input")
        assert.deepStrictEqual(r.body.error.details.issues.map((i: { path: Array<string> }) => i.path), [["payload", "label"]])
      }
      const key = await call(`${app.url}/steps`, { method: "POST", owner: "nul", body: { steps: 1, stepMs: 1, key: "k\u0000" } })
      assert.strictEqual(key.status, 400)
      assert.deepStrictEqual(key.body.error.details.issues.map((i: { path: Array<string> }) => i.path.join(".")), [
        "payload.key",
        "options.key"
      ])
      assert.strictEqual(await count(app, "nul"), before)
      // a well-formed surrogate pair and other control characters are stored as given
      const ok = await call(`${app.url}/steps`, { method: "POST", owner: "nul", body: { steps: 1, stepMs: 1, label: "\ud83d\ude00\u0001" } })
      assert.strictEqual(ok.status, 202)
      assert.deepInclude((await app.jobs.get(ok.body.job_id)).payload, { label: "\ud83d\ude00\u0001" })
    })

    it("a handler's error and progress text with a NUL or an unpaired surrogate is stored with U+FFFD; such a result fails the job", async () => {
      const failing = await call(`${app.url}/noisy`, { method: "POST", owner: "nul", body: { fail: true } })
      const failed = await eventually(() => call(`${app.url}/${failing.body.job_id}`, { owner: "nul" }), (r) => r.body.status === "failed")
      assert.strictEqual(failed.body.error_message, "bad\ufffdbyte \ufffd")
      assert.strictEqual(failed.body.progress_message, "step\ufffdone")
      const result = await call(`${app.url}/noisy`, { method: "POST", owner: "nul", body: { fail: false } })
      const settled = await eventually(() => call(`${app.url}/${result.body.job_id}`, { owner: "nul" }), (r) => r.body.status === "failed")
      assert.strictEqual(settled.body.error_message, "result cannot be stored: result.text: Expected text without NUL characters (U+0000)")
    })
  })
}

/** A raw POST that writes `size` bytes, chunked or with a Content-Length, and reports the answer or the socket error. */
const post = (url: string, size: number, chunked: boolean) =>
  new Promise<{ status: number; body: string } | { error: string }>((resolve) => {
    const req = request(url, {
      method: "POST",
      headers: {
        authorization: "Bearer ann",
        "content-type": "application/json",
        ...(chunked ? {} : { "content-length": String(size) })
      }
    }, (res) => {
      let body = ""
      res.setEncoding("utf8")
      res.on("data", (c: string) => (body += c))
      res.on("end", () => resolve({ status: res.statusCode!, body }))
      res.on("error", (e) => resolve({ error: e.message }))
    })
    req.on("error", (e) => resolve({ error: (e as NodeJS.ErrnoException).code ?? e.message }))
    const chunk = Buffer.alloc(64 * 1024, " ")
    let left = size
    const pump = () => {
      while (left > 0) {
        const n = Math.min(left, chunk.length)
        left -= n
        if (!req.write(chunk.subarray(0, n))) return void req.once("drain", pump)
      }
      req.end()
    }
    pump()
  })

describe("request bodies", () => {
  let app: App
  beforeAll(async () => {
    app = await startApp("/api/jobs", {}, "memory")
  })
  afterAll(() => app.close())

  it("413 for a body over the limit, declared or streamed, answered (never a reset) and the server still serves", async () => {
    for (const chunked of [false, true]) {
      for (const size of [1025, 4 * 1024 * 1024]) {
        const r = await post(`${app.url}/steps`, size, chunked)
        assert.deepInclude(r, { status: 413 }, `${size} bytes ${chunked ? "chunked" : "declared"}: ${JSON.stringify(r)}`)
        assert.strictEqual(JSON.parse((r as { body: string }).body).error.code, "payload_too_large")
      }
    }
    const ok = await call(`${app.url}/steps`, { method: "POST", owner: "ann", body: { steps: 1, stepMs: 1 } })
    assert.strictEqual(ok.status, 202)
  })

  it("gzip bodies are read, and the limit holds after inflating", async () => {
    const send = (json: string) =>
      fetch(`${app.url}/steps`, {
        method: "POST",
        headers: { authorization: "Bearer ann", "content-type": "application/json", "content-encoding": "gzip" },
        body: gzipSync(json)
      })
    const ok = await send(JSON.stringify({ steps: 1, stepMs: 1 }))
    assert.strictEqual(ok.status, 202)
    const bomb = `{"steps":1,"stepMs":1,"label":"${" ".repeat(256 * 1024)}"}`
    assert.isBelow(gzipSync(bomb).length, 1024)
    const big = await send(bomb)
    assert.strictEqual(big.status, 413)
    assert.strictEqual(((await big.json()) as { error: { code: string } }).error.code, "payload_too_large")
  })

  it("400 for malformed JSON and for a __proto__ key, without quoting the body", async () => {
    for (const body of ["{nope", "{\"steps\":1,", "{\"__proto__\":{\"x\":1},\"steps\":1,\"stepMs\":1}"]) {
      const r = await call(`${app.url}/steps`, { method: "POST", owner: "ann", body })
      assert.strictEqual(r.status, 400, body)
      assert.strictEqual(r.body.error.code, "invalid_input")
      assert.notInclude(JSON.stringify(r.body), "nope")
    }
  })
})
