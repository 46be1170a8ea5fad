import { connect } from "node:net"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { call, eventually, readEvents, startApp } from "./server.js"
import type { App } from "./server.js"

const idPattern = /^\d+-[0-9a-f]{8}$/

for (const store of ["memory", "pglite"] as const) {
  describe(`SSE resume over the ${store} store`, () => {
    let app: App
    beforeAll(async () => {
      app = await startApp("/api/jobs", {}, store)
    }, 120_000)
    afterAll(() => app.close())

    const open = (id: string, lastEventId?: string) => {
      const ac = new AbortController()
      const headers: Record<string, string> = { authorization: "Bearer ann" }
      if (lastEventId !== undefined) headers["last-event-id"] = lastEventId
      return { ac, response: fetch(`${app.url}/${id}/events`, { headers, signal: ac.signal }) }
    }

    it("frames carry ids; a reconnect with Last-Event-ID is told it missed events and gets the current state at once", async () => {
      const res = await call(`${app.url}/steps`, { method: "POST", owner: "ann", body: { steps: 40, stepMs: 100 } })
      const id: string = res.body.job_id
      await eventually(() => call(`${app.url}/${id}`, { owner: "ann" }), (r) => r.body.progress > 0)
      const first = open(id)
      const before = await readEvents(await first.response, (events) => events.length >= 2)
      first.ac.abort()
      const [a, b] = before.frames
      assert.match(a!.id!, idPattern)
      assert.match(b!.id!, idPattern)
      assert.notStrictEqual(a!.id, b!.id)
      // while disconnected the job moves on
      const last = b!.data.progress as number
      const now = await eventually(() => call(`${app.url}/${id}`, { owner: "ann" }), (r) => r.body.progress > last)
      const again = open(id, b!.id)
      const resumed = await readEvents(await again.response, (events) => events.length >= 1)
      again.ac.abort()
      assert.deepStrictEqual(resumed.frames[0], { event: "resume", id: undefined, data: { missed: true } })
      const current = resumed.frames[1]!
      assert.strictEqual(current.event, "job")
      assert.notStrictEqual(current.id, b!.id)
      // never older than what the store held before the reconnect
      assert.isAtLeast(current.data.progress as number, now.body.progress)
      await call(`${app.url}/${id}/cancel`, { method: "POST", owner: "ann" })
    })

    it("a reconnect when nothing changed is told so, with the same state and id", async () => {
      const running = await call(`${app.url}/solo`, { method: "POST", owner: "ann", body: {} })
      await eventually(() => call(`${app.url}/${running.body.job_id}`, { owner: "ann" }), (r) => r.body.status === "processing")
      const waiting = await call(`${app.url}/solo`, { method: "POST", owner: "ann", body: {} })
      const id: string = waiting.body.job_id
      const first = open(id)
      const before = await readEvents(await first.response, (events) => events.length >= 1)
      first.ac.abort()
      assert.strictEqual(before.events[0]!.status, "pending")
      const again = open(id, before.frames[0]!.id)
      const resumed = await readEvents(await again.response, (events) => events.length >= 1)
      again.ac.abort()
      assert.deepStrictEqual(resumed.frames[0]!.data, { missed: false })
      assert.strictEqual(resumed.frames[1]!.id, before.frames[0]!.id)
      assert.deepStrictEqual(resumed.frames[1]!.data, before.frames[0]!.data)
      for (const job of [waiting, running]) await call(`${app.url}/${job.body.job_id}/cancel`, { method: "POST", owner: "ann" })
    })

    it("a finished job: an older id gets the final state and the stream ends; the final id gets 204", async () => {
      const res = await call(`${app.url}/flaky`, { method: "POST", owner: "ann", body: {} })
      const id: string = res.body.job_id
      await eventually(() => call(`${app.url}/${id}`, { owner: "ann" }), (r) => r.body.status === "failed")
      const stale = await readEvents(await open(id, "1-00000000").response)
      assert.isTrue(stale.ended)
      assert.deepStrictEqual(stale.frames.map((f) => [f.event, f.data.status ?? f.data.missed]), [["resume", true], ["job", "failed"]])
      const done = await open(id, stale.frames[1]!.id).response
      assert.strictEqual(done.status, 204)
    })

    it("the wire framing: HTTP/1.1 chunks each event whole; an HTTP/1.0 client gets the events unchunked", async () => {
      const res = await call(`${app.url}/flaky`, { method: "POST", owner: "ann", body: {} })
      const id: string = res.body.job_id
      await eventually(() => call(`${app.url}/${id}`, { owner: "ann" }), (r) => r.body.status === "failed")
      const { hostname: host, port, pathname } = new URL(`${app.url}/${id}/events`)
      const raw = (version: string) =>
        new Promise<string>((resolve, reject) => {
          const socket = connect(Number(port), host)
          let text = ""
          socket.setEncoding("latin1")
          socket.on("data", (d: string) => (text += d))
          socket.on("end", () => resolve(text))
          socket.on("error", reject)
          socket.write(`GET ${pathname} HTTP/${version}\r\nHost: ${host}\r\nAuthorization: Bearer ann\r\nConnection: close\r\n\r\n`)
        })
      const chunked = await raw("1.1")
      assert.match(chunked, /transfer-encoding: chunked/i)
      const body = chunked.slice(chunked.indexOf("\r\n\r\n") + 4)
      // every chunk's size matches its bytes and holds whole events
      const events: Array<string> = []
      let rest = body
      while (rest.length > 0) {
        const eol = rest.indexOf("\r\n")
        const size = parseInt(rest.slice(0, eol), 16)
        if (size === 0) break
        const data = rest.slice(eol + 2, eol + 2 + size)
        assert.strictEqual(rest.slice(eol + 2 + size, eol + 4 + size), "\r\n")
        assert.isTrue(data.endsWith("\n\n"))
        events.push(data)
        rest = rest.slice(eol + 4 + size)
      }
      assert.isTrue(events.some((e) => e.includes("event: job") && e.includes(`"status":"failed"`)))
      const plain = await raw("1.0")
      assert.notMatch(plain, /transfer-encoding/i)
      assert.match(plain, /\r\n\r\nretry: 2000\n\nid: [^\n]+\nevent: job\ndata: \{[^\n]*"status":"failed"/)
    })
  })
}
