import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { InvalidOptions } from "@jobtrack/core"
import { StreamSlots } from "@jobtrack/adapter-koa"
import { call, eventually, sseChunks, startApp } from "./server.js"
import type { App } from "./server.js"
import { startConsoleApp } from "./consoleServer.js"
import type { ConsoleApp } from "./consoleServer.js"

/** An SSE request: a 200 stream (read in the background until closed) or the refusal's status, body and Retry-After. */
const open = async (url: string, headers: Record<string, string>) => {
  const abort = new AbortController()
  const res = await fetch(url, { headers, signal: abort.signal })
  if (res.status !== 200) {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    return { status: res.status, retryAfter: res.headers.get("retry-after"), body: (await res.json()) as any, close: () => {} }
  }
  const ended = (async () => {
    try {
      for await (const _ of sseChunks(res)) { /* read until closed */ }
    } catch {
      // aborted
    }
  })()
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return { status: 200, retryAfter: null, body: undefined as any, close: () => abort.abort(), ended }
}

describe("event streams are capped per owner and per router", () => {
  let app: App
  beforeAll(async () => {
    app = await startApp("/api/jobs", { maxStreamsPerOwner: 2, maxStreams: 3 })
  })
  afterAll(() => app.close())

  it("over a cap is a 429 with Retry-After; a closed or ended stream frees its slot; a 404 takes none", async () => {
    const ann = { authorization: "Bearer ann" }
    const bob = { authorization: "Bearer bob" }
    const long = { steps: 100, stepMs: 1000 }
    const annJob = (await call(`${app.url}/steps`, { method: "POST", owner: "ann", body: long })).body.job_id as string
    const bobJob = (await call(`${app.url}/steps`, { method: "POST", owner: "bob", body: long })).body.job_id as string
    // requests that open no stream hold no slot
    for (let i = 0; i < 5; i++) {
      assert.strictEqual((await open(`${app.url}/01900000-0000-7000-8000-000000000000/events`, ann)).status, 404)
      assert.strictEqual((await open(`${app.url}/${bobJob}/events`, ann)).status, 404)
    }
    const a1 = await open(`${app.url}/${annJob}/events`, ann)
    const a2 = await open(`${app.url}/${annJob}/events`, ann)
    assert.deepStrictEqual([a1.status, a2.status], [200, 200])
    const a3 = await open(`${app.url}/${annJob}/events`, ann)
    assert.strictEqual(a3.status, 429)
    assert.strictEqual(a3.retryAfter, "5")
    assert.strictEqual(a3.body.error.code, "too_many_streams")
    // bob has his own slots, up to the router's 3 in all
    const b1 = await open(`${app.url}/${bobJob}/events`, bob)
    assert.strictEqual(b1.status, 200)
    const b2 = await open(`${app.url}/${bobJob}/events`, bob)
    assert.strictEqual(b2.status, 429)
    assert.strictEqual(b2.body.error.code, "too_many_streams")
    // ann closes one: her slot (and the router's) is free again once the server sees the close
    a1.close()
    const again = await eventually(() => open(`${app.url}/${bobJob}/events`, bob), (r) => r.status === 200, 5_000)
    assert.strictEqual((await open(`${app.url}/${annJob}/events`, ann)).status, 429)
    // a stream that ends on its own (the job is cancelled: terminal) frees its slot too
    await call(`${app.url}/${annJob}/cancel`, { method: "POST", owner: "ann" })
    await a2.ended
    const short = (await call(`${app.url}/steps`, { method: "POST", owner: "ann", body: long })).body.job_id as string
    const a4 = await eventually(() => open(`${app.url}/${short}/events`, ann), (r) => r.status === 200, 5_000)
    for (const s of [a4, b1, again]) s.close()
    await call(`${app.url}/${short}/cancel`, { method: "POST", owner: "ann" })
    await call(`${app.url}/${bobJob}/cancel`, { method: "POST", owner: "bob" })
  })
})

describe("anonymous callers' event streams are capped per address (an IPv6 one per /64)", () => {
  let app: App
  beforeAll(async () => {
    // behind one proxy: ctx.ip is the address the proxy saw (the last X-Forwarded-For entry)
    app = await startApp("/api/jobs", { allowAnonymous: true, maxStreamsPerOwner: 2, maxStreams: 50 }, "memory", (koa) => {
      koa.proxy = true
      koa.maxIpsCount = 1
    })
  })
  afterAll(() => app.close())

  it("two addresses have caps of their own; one address, or one IPv6 /64, is capped", async () => {
    const job = (await call(`${app.url}/steps`, { method: "POST", body: { steps: 100, stepMs: 1000 } })).body.job_id as string
    const from = (xff: string) => open(`${app.url}/${job}/events`, { "x-forwarded-for": xff })
    const opened: Array<Awaited<ReturnType<typeof open>>> = []
    const expect = async (xff: string, status: number) => {
      const s = await from(xff)
      opened.push(s)
      assert.strictEqual(s.status, status, `${xff}: ${JSON.stringify(s.body)}`)
      if (status === 429) assert.strictEqual(s.body.error.code, "too_many_streams")
      return s
    }
    const first = await expect("203.0.113.1", 200)
    await expect("203.0.113.1", 200)
    await expect("203.0.113.1", 429)
    // the same client written as a dual-stack server sees it
    await expect("::ffff:203.0.113.1", 429)
    // and every other spelling of it: hexadecimal groups, zeros written out, upper case
    await expect("::ffff:cb00:7101", 429)
    await expect("0:0:0:0:0:ffff:203.0.113.1", 429)
    await expect("0:0:0:0:0:FFFF:CB00:7101", 429)
    // a client cannot choose its address: it is the proxy's entry, the last one
    await expect("198.51.100.7, 203.0.113.1", 429)
    // another address has its own cap
    await expect("203.0.113.2", 200)
    await expect("203.0.113.2", 200)
    await expect("203.0.113.2", 429)
    // IPv6: any address of one /64 is one client
    await expect("2001:db8::1", 200)
    await expect("2001:db8:0:0:ffff::2", 200)
    await expect("2001:DB8:0::abcd", 429)
    await expect("2001:db8:0:1::1", 200)
    // a closed stream frees its address's slot
    first.close()
    opened.push(await eventually(() => from("203.0.113.1"), (r) => r.status === 200, 5_000))
    for (const s of opened) s.close()
    await call(`${app.url}/${job}/cancel`, { method: "POST" })
  })
})

describe("the console's change streams are capped", () => {
  let app: ConsoleApp
  beforeAll(async () => {
    app = await startConsoleApp({ maxStreams: 2 })
  })
  afterAll(() => app.close())

  it("over the cap is a 429 with Retry-After; a closed stream frees its slot", async () => {
    const viewer = { "x-user": "viewer" }
    const s1 = await open(`${app.url}/api/events`, viewer)
    const s2 = await open(`${app.url}/api/events?job=01900000-0000-7000-8000-000000000000`, viewer)
    assert.deepStrictEqual([s1.status, s2.status], [200, 200])
    const s3 = await open(`${app.url}/api/events`, viewer)
    assert.strictEqual(s3.status, 429)
    assert.strictEqual(s3.retryAfter, "5")
    assert.strictEqual(s3.body.error.code, "too_many_streams")
    s1.close()
    const s4 = await eventually(() => open(`${app.url}/api/events`, viewer), (r) => r.status === 200, 5_000)
    s2.close()
    s4.close()
  })
})

describe("one operator cannot take every console stream", () => {
  let app: ConsoleApp
  beforeAll(async () => {
    app = await startConsoleApp({ maxStreams: 3, maxStreamsPerOperator: 2 })
  })
  afterAll(() => app.close())

  it("an operator over maxStreamsPerOperator is a 429; another operator still gets one", async () => {
    const viewer = { "x-user": "viewer" }
    const admin = { "x-user": "admin" }
    const v1 = await open(`${app.url}/api/events`, viewer)
    const v2 = await open(`${app.url}/api/events`, viewer)
    assert.deepStrictEqual([v1.status, v2.status], [200, 200])
    const v3 = await open(`${app.url}/api/events`, viewer)
    assert.strictEqual(v3.status, 429)
    assert.strictEqual(v3.retryAfter, "5")
    assert.strictEqual(v3.body.error.code, "too_many_streams")
    const a1 = await open(`${app.url}/api/events`, admin)
    assert.strictEqual(a1.status, 200)
    // the console's cap in all still holds
    const a2 = await open(`${app.url}/api/events`, admin)
    assert.strictEqual(a2.status, 429)
    v1.close()
    const v4 = await eventually(() => open(`${app.url}/api/events`, viewer), (r) => r.status === 200, 5_000)
    for (const s of [v2, v4, a1]) s.close()
  })
})

describe("stream caps are checked where they are given", () => {
  it("a cap that is not an integer of at least 1 (or Infinity) is an InvalidOptions naming each, by the caller's names", () => {
    const thrown = (() => {
      try {
        StreamSlots.make({ perKey: 0, total: Number.NaN }, { of: "jobsConsole options", perKey: "maxStreamsPerOperator", total: "maxStreams" })
      } catch (e) {
        return e
      }
    })()
    assert.instanceOf(thrown, InvalidOptions)
    assert.deepStrictEqual((thrown as InvalidOptions).issues.map((i) => i.path), [["maxStreamsPerOperator"], ["maxStreams"]])
    assert.match((thrown as InvalidOptions).message, /^invalid jobsConsole options: maxStreamsPerOperator: must be an integer of at least 1, or Infinity \(got 0\); maxStreams: .*\(got NaN\)$/)
    assert.doesNotThrow(() => StreamSlots.make({ perKey: 1, total: Infinity }))
  })
})
