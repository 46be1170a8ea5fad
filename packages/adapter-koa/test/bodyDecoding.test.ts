import { gzipSync, brotliCompressSync, deflateSync } from "node:zlib"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { startApp } from "./server.js"
import type { App } from "./server.js"
import { consoleCall, startConsoleApp } from "./consoleServer.js"
import type { ConsoleApp } from "./consoleServer.js"

const good = gzipSync(JSON.stringify({ steps: 1, stepMs: 1 }))
/** Bodies a client may send that cannot be decoded, each with its Content-Encoding. */
const undecodable: ReadonlyArray<readonly [string, string, Uint8Array]> = [
  ["gzip garbage", "gzip", Buffer.from("xx")],
  ["truncated gzip", "gzip", good.subarray(0, good.length - 6)],
  ["deflate garbage", "deflate", Buffer.from("xx")],
  ["brotli garbage", "br", Buffer.from("xx")],
  ["brotli, bad padding", "br", Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x02])]
]

const post = async (url: string, encoding: string, body: Uint8Array, headers: Record<string, string> = {}) => {
  const res = await fetch(url, {
    method: "POST",
    headers: { ...headers, "content-type": "application/json", "content-encoding": encoding },
    body
  })
  const text = await res.text()
  return { status: res.status, body: text ? JSON.parse(text) : undefined }
}

describe("request bodies that cannot be decoded", () => {
  let app: App
  let admin: ConsoleApp
  beforeAll(async () => {
    app = await startApp()
    admin = await startConsoleApp()
  })
  afterAll(async () => {
    await app.close()
    await admin.close()
  })

  it("jobs API: undecodable is 400, an unknown encoding 415, a gzip bomb 413, a good gzip body 202", async () => {
    const auth = { authorization: "Bearer ann" }
    for (const [label, encoding, body] of undecodable) {
      const r = await post(`${app.url}/steps`, encoding, body, auth)
      assert.strictEqual(r.status, 400, label)
      assert.deepStrictEqual(r.body, { error: { code: "invalid_input", message: "the body could not be decoded" } }, label)
    }
    const unknown = await post(`${app.url}/steps`, "zstd-ish", Buffer.from("{}"), auth)
    assert.strictEqual(unknown.status, 415)
    assert.strictEqual(unknown.body.error.code, "unsupported_media_type")
    // 1 KiB limit (startApp): 1 MB of spaces compresses to ~1 KiB
    const bomb = await post(`${app.url}/steps`, "gzip", gzipSync(Buffer.alloc(1_000_000, 32)), auth)
    assert.strictEqual(bomb.status, 413)
    assert.strictEqual(bomb.body.error.code, "payload_too_large")
    const ok = await post(`${app.url}/steps`, "gzip", good, auth)
    assert.strictEqual(ok.status, 202)
    const deflated = await post(`${app.url}/steps`, "deflate", deflateSync(JSON.stringify({ steps: 1, stepMs: 1 })), auth)
    assert.strictEqual(deflated.status, 202)
    const brotli = await post(`${app.url}/steps`, "br", brotliCompressSync(JSON.stringify({ steps: 1, stepMs: 1 })), auth)
    assert.strictEqual(brotli.status, 202)
  })

  it("console actions: undecodable is 400, an unknown encoding 415", async () => {
    const token = (await consoleCall(admin, "/api/me", { user: "admin" })).body.token as string
    const headers = { "x-user": "admin", "x-console-token": token }
    for (const path of ["/api/bulk", "/api/selection", "/api/jobs/01900000-0000-7000-8000-000000000000/action"]) {
      for (const [label, encoding, body] of undecodable) {
        const r = await post(`${admin.url}${path}`, encoding, body, headers)
        assert.strictEqual(r.status, 400, `${path} ${label}`)
        assert.deepStrictEqual(r.body, { error: { code: "invalid_input", message: "the body could not be decoded" } })
      }
      const unknown = await post(`${admin.url}${path}`, "zstd-ish", Buffer.from("{}"), headers)
      assert.strictEqual(unknown.status, 415, path)
    }
  })
})
