/**
 * Event streams and a client that stops reading: the server must not buffer
 * without bound. Before, every event was written whatever `write()` answered:
 * a frozen client of a chatty job held its unsent views in the server (6 MB
 * here) until the job ended. Now a stream past `maxStreamBufferBytes` keeps
 * only the latest event until the client catches up (the job's latest view;
 * the console's one resync), and a client behind for `slowStreamTimeout` is
 * dropped and counted. Each case uses a real socket that stops reading.
 */
import http from "node:http"
import type { ServerResponse } from "node:http"
import net from "node:net"
import type { AddressInfo } from "node:net"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import Koa from "koa"
import { afterEach, assert, describe, it } from "vitest"
import { Effect, Metric, Schema } from "effect"
import { JobDefinition, Jobtrack, MemoryStore } from "@jobtrack/core"
import { jobsConsole, jobsRouter, SsePacing } from "@jobtrack/adapter-koa"

const cleanups: Array<() => unknown> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

/** Resolves once `check` holds, polled every 10 ms; fails after `ms` (a bound on a wait on a real state). */
const until = async (check: () => boolean, ms: number, what: string) => {
  const start = Date.now()
  while (!check()) {
    if (Date.now() - start > ms) throw new Error(`not within ${ms} ms: ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

/** A raw HTTP/1.1 GET whose socket stops reading once `marker` arrived; `resume()` reads the rest until the end. */
const frozenClient = (connect: () => net.Socket, path: string, marker: string) => {
  const socket = connect()
  let text = ""
  let frozen = false
  const ended = new Promise<string>((resolve) => {
    socket.on("end", () => resolve(text))
    socket.on("close", () => resolve(text))
    socket.on("error", () => resolve(text))
  })
  const at = new Promise<void>((resolve) => {
    socket.on("data", (d: Buffer) => {
      text += d.toString("latin1")
      if (!frozen && text.includes(marker)) {
        frozen = true
        socket.pause()
        resolve()
      }
    })
  })
  socket.write(`GET ${path} HTTP/1.1\r\nHost: test\r\nAccept: text/event-stream\r\n\r\n`)
  cleanups.push(() => socket.destroy())
  return { socket, frozenAt: at, ended, resume: () => socket.resume(), text: () => text }
}

const pad = "x".repeat(256 * 1024)

/** Reports `steps` progress changes, one every 25 ms, then waits for `release`. */
let release = () => {}
const chatty = JobDefinition.make({
  type: "chatty",
  payload: Schema.Struct({ steps: Schema.Number, hold: Schema.Boolean }),
  run: async (p, ctx) => {
    for (let i = 1; i <= p.steps; i++) {
      await ctx.progress(i, `step ${i}`)
      await new Promise((r) => setTimeout(r, 25)) // paces the producer: one change per progress write
    }
    if (p.hold) {
      await new Promise<void>((r) => {
        release = r
        ctx.signal.addEventListener("abort", () => r())
      })
    }
    return null
  }
})

/** The jobs router with every view padded to 256 KiB; the responses of its event streams. */
const startJobs = async (extra: { slowStreamTimeout?: `${number} millis` } = {}) => {
  const jobs = Jobtrack.make({
    store: MemoryStore.layer,
    definitions: [chatty],
    runner: { concurrency: 2, pollInterval: "20 millis", progressInterval: "10 millis" }
  })
  await jobs.start()
  const router = jobsRouter(jobs, { owner: () => "ann", present: (view) => ({ ...view, pad }), ...extra })
  const streams: Array<ServerResponse> = []
  const app = new Koa()
    .use(async (ctx, next) => {
      if (ctx.path.endsWith("/events")) streams.push(ctx.res)
      await next()
    })
    .use(router.routes())
  const server = app.listen(0, "127.0.0.1")
  await new Promise((r) => server.once("listening", r))
  const { port } = server.address() as AddressInfo
  cleanups.push(async () => {
    release()
    server.closeAllConnections()
    await new Promise((r) => server.close(r))
    await jobs.close()
  })
  return { jobs, streams, connect: () => net.connect(port, "127.0.0.1") }
}

const dropped = (stream: "jobs" | "console") =>
  Effect.runSync(Metric.value(Metric.withAttributes(SsePacing.metrics.dropped, { stream }))).count

describe("jobs router: a client that stops reading its event stream", () => {
  it("is held to the buffer bound plus the latest view, and gets the final view when it reads again", async () => {
    const { jobs, streams, connect } = await startJobs()
    const { job } = await jobs.enqueue(chatty, { steps: 40, hold: false }, { owner: "ann" })
    const client = frozenClient(connect, `/${job.id}/events`, "event: job")
    await client.frozenAt
    const res = streams[0]!
    let most = 0
    const sample = setInterval(() => (most = Math.max(most, res.writableLength)), 5)
    cleanups.push(() => clearInterval(sample))
    await until(() => res.writableEnded, 20_000, "the stream's end after the job completed")
    most = Math.max(most, res.writableLength)
    clearInterval(sample)
    // before: 40 views of 256 KiB, about 4 MB in the kernel and the rest (6 MB) in the server
    const frame = 256 * 1024 + 2048
    assert.isAtMost(most, 64 * 1024 + 2 * frame, `the server held ${most} bytes for one stream`)
    client.resume()
    const text = await client.ended
    const views = text.split("\n").filter((l) => l.startsWith("data: ")).map((l) => JSON.parse(l.slice(6)) as { status: string; progress: number })
    assert.isBelow(views.length, 40, "the views between were coalesced")
    assert.strictEqual(views.at(-1)!.status, "completed")
    assert.include(text, "0\r\n\r\n", "the stream ended")
  })

  it("is dropped and counted when it stays behind for slowStreamTimeout", async () => {
    const { jobs, streams, connect } = await startJobs({ slowStreamTimeout: "300 millis" })
    const before = dropped("jobs")
    const { job } = await jobs.enqueue(chatty, { steps: 40, hold: true }, { owner: "ann" })
    const client = frozenClient(connect, `/${job.id}/events`, "event: job")
    await client.frozenAt
    const res = streams[0]!
    // before: it stayed open, its buffer growing, for as long as the job ran
    await until(() => res.destroyed, 20_000, "the server dropping the frozen client")
    assert.strictEqual(dropped("jobs"), before + 1)
    assert.strictEqual((await jobs.get(job.id)).status, "processing")
  })
})

/** A long type and queue: a change is about 350 bytes of JSON. */
const wide = JobDefinition.make({
  type: `wide-${"t".repeat(90)}`,
  queue: `q-${"q".repeat(190)}`,
  payload: Schema.Struct({}),
  run: async () => null
})

describe("console: a page that stops reading its change stream", () => {
  it("is held to the buffer bound, and gets one resync when it reads again", async () => {
    const jobs = Jobtrack.make({ store: MemoryStore.layer, definitions: [wide] })
    const admin = jobsConsole(jobs, { access: () => ({ actor: "ops", actions: [] }), runBulk: false })
    const streams: Array<ServerResponse> = []
    const app = new Koa()
      .use(async (ctx, next) => {
        if (ctx.path === "/api/events") streams.push(ctx.res)
        await next()
      })
      .use(admin.routes())
    // a unix socket: its kernel buffer is ~200 KiB (loopback TCP's ~4 MiB would take minutes of changes to fill)
    const dir = mkdtempSync(join(tmpdir(), "jt-slow-"))
    const path = join(dir, "console.sock")
    const server = app.listen(path)
    await new Promise((r) => server.once("listening", r))
    cleanups.push(async () => {
      server.closeAllConnections()
      await new Promise((r) => server.close(r))
      await admin.close()
      await jobs.close()
      rmSync(dir, { recursive: true, force: true })
    })
    const client = frozenClient(() => net.connect(path), "/api/events", "event: ready")
    await client.frozenAt
    const frozen = streams[0]!
    // a page that reads: its `changes` pace the batches (one batch per 250 ms flush)
    let seen = ""
    const reader = http.get({ socketPath: path, path: "/api/events" }, (r) => r.on("data", (d: Buffer) => (seen += d.toString())))
    cleanups.push(() => reader.destroy())
    await until(() => seen.includes("event: ready"), 5_000, "the reading page's ready")
    let most = 0
    for (let batch = 0; batch < 12; batch++) {
      const made = await jobs.enqueueMany(wide, Array.from({ length: 240 }, () => ({ payload: {} })))
      const last = made.at(-1)!.job.id
      await until(() => seen.includes(last), 10_000, `batch ${batch} on the reading page`)
      most = Math.max(most, frozen.writableLength)
    }
    // before: about 1 MB of batches, 800 KB of it in the server
    assert.isAtMost(most, 64 * 1024 + 200 * 1024, `the server held ${most} bytes for one stream`)
    const before = client.text().length
    client.resume()
    await until(() => client.text().slice(before).includes("event: resync"), 10_000, "the resync after catching up")
  })
})
