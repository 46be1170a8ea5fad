import { once } from "node:events"
import { request } from "node:http"
import { Readable, Transform } from "node:stream"
import type { Writable } from "node:stream"
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
    // content-codings are case-insensitive (RFC 9110)
    const upper = await post(`${app.url}/steps`, "GZIP", good, auth)
    assert.strictEqual(upper.status, 202)
  })

  it("a body that is not UTF-8 is not JSON: a 400, not read with U+FFFD in it", async () => {
    const auth = { authorization: "Bearer ann" }
    // {"steps":1,"stepMs":1,"label":"\xE9"}: a Latin-1 é, not UTF-8
    const latin1 = Buffer.concat([Buffer.from('{"steps":1,"stepMs":1,"label":"'), Buffer.from([0xe9]), Buffer.from('"}')])
    for (const [label, encoding, body] of [["identity", "identity", latin1], ["gzip", "gzip", gzipSync(latin1)]] as const) {
      const r = await post(`${app.url}/steps`, encoding, body, auth)
      assert.strictEqual(r.status, 400, label)
      assert.deepStrictEqual(r.body, { error: { code: "invalid_input", message: "body is not valid JSON" } }, label)
    }
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

  it("a truncated gzip bomb, or a client leaving mid-body, never ends the process or hangs: each is answered, the server still serves", async () => {
    // the process's own failures while this runs: a zlib stream erroring with nobody listening was one
    const uncaught: Array<unknown> = []
    const record = (e: unknown) => void uncaught.push(e)
    process.on("uncaughtException", record)
    // the server's decoders (what it pipes a request into): their `close` is when zlib is done with them
    const decoders: Array<Writable> = []
    const pipe = Readable.prototype.pipe
    Readable.prototype.pipe = function<T extends NodeJS.WritableStream>(this: Readable, dest: T, options?: { end?: boolean }): T {
      if (dest instanceof Transform && dest.constructor.name.match(/Unzip|Gunzip|Inflate|Brotli/)) decoders.push(dest)
      return pipe.call(this, dest, options) as T
    }
    try {
      const auth = { authorization: "Bearer ann" }
      // 10 MB of zeros in ~10 KB; the router's limit is 1 KiB (startApp)
      const bomb = gzipSync(Buffer.alloc(10_000_000), { level: 9 })
      const send = (body: Uint8Array) =>
        fetch(`${app.url}/steps`, {
          method: "POST",
          headers: { ...auth, "content-type": "application/json", "content-encoding": "gzip" },
          body,
          signal: AbortSignal.timeout(5_000)
        }).then(async (res) => ({ status: res.status, body: (await res.json()) as { error: { code: string } } }))
      for (const n of [60, 80, 100, 120, 150, 200, 300, 1_000, 5_000]) {
        const r = await send(bomb.subarray(0, n))
        // too short to reach the limit: a truncated stream (400); else over the limit (413)
        assert.include([400, 413], r.status, `prefix of ${n} bytes`)
        assert.include(["invalid_input", "payload_too_large"], r.body.error.code, `prefix of ${n} bytes`)
      }
      assert.strictEqual((await send(bomb.subarray(0, 5_000))).status, 413)
      assert.strictEqual((await send(bomb)).status, 413)
      // a client that sends part of a gzip body, then leaves
      const left = request(`${app.url}/steps`, {
        method: "POST",
        headers: { ...auth, "content-type": "application/json", "content-encoding": "gzip", "content-length": bomb.length }
      })
      const closed = new Promise<void>((resolve) => left.once("close", () => resolve()))
      left.on("error", () => {})
      left.write(bomb.subarray(0, 2_000), () => left.destroy())
      await closed
      const ok = await send(good)
      assert.strictEqual(ok.status, 202)
      // every decoder closed (zlib's last callback has run; a failure after it would be uncaught now): bounded
      assert.isAbove(decoders.length, 10)
      let timer: ReturnType<typeof setTimeout> | undefined
      await Promise.race([
        Promise.all(decoders.map((d) => (d.closed ? undefined : once(d, "close")))),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`decoders open after 10 s: ${decoders.filter((d) => !d.closed).length}`)), 10_000)
        })
      ]).finally(() => clearTimeout(timer))
      assert.deepStrictEqual(uncaught, [])
    } finally {
      Readable.prototype.pipe = pipe
      process.off("uncaughtException", record)
    }
  })
})
