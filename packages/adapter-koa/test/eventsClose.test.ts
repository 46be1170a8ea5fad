/**
 * An event stream of the jobs router ends when the tracker closes: after
 * `jobs.close()` the response ends, so the host's `server.close()` finishes.
 * Before, the stream stayed open (no event, the connection open: the audit
 * waited 8 s) and `server.close()` never returned.
 */
import http from "node:http"
import type { AddressInfo } from "node:net"
import Koa from "koa"
import { afterEach, assert, describe, it } from "vitest"
import { Schema } from "effect"
import { JobDefinition, Jobtrack, MemoryStore } from "@jobtrack/core"
import { jobsConsole, jobsRouter } from "@jobtrack/adapter-koa"

const def = JobDefinition.make({ type: "idle", payload: Schema.Struct({}), run: async () => null })

/** Resolves with the value or rejects after `ms` (a bound on a wait, not a sleep). */
const within = <A>(p: Promise<A>, ms: number, what: string): Promise<A> =>
  new Promise<A>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`still pending after ${ms} ms: ${what}`)), ms)
    p.then((a) => { clearTimeout(timer); resolve(a) }, (e) => { clearTimeout(timer); reject(e) })
  })

const cleanups: Array<() => void> = []
afterEach(() => {
  for (const c of cleanups.splice(0)) c()
})

/** Serve `app` on a free port (its connections cut after the test). */
const listen = async (app: { listen: Koa["listen"] }) => {
  const server = app.listen(0, "127.0.0.1")
  cleanups.push(() => server.closeAllConnections())
  await new Promise((resolve) => server.once("listening", resolve))
  return { server, port: (server.address() as AddressInfo).port }
}

/** An SSE request: `first` once the body holds `marker`, `ended` with the whole body once the server ends it. */
const follow = (port: number, path: string, marker: string) => {
  let opened!: () => void
  const first = new Promise<void>((resolve) => (opened = resolve))
  const ended = new Promise<string>((resolve, reject) => {
    const req = http.get({ host: "127.0.0.1", port, path }, (res) => {
      let body = ""
      res.setEncoding("utf8")
      res.on("data", (d: string) => {
        body += d
        if (body.includes(marker)) opened()
      })
      res.on("end", () => resolve(body))
      res.on("error", reject)
    })
    req.on("error", reject)
    cleanups.push(() => req.destroy())
  })
  return { first, ended }
}

describe("jobs router: an event stream when the tracker closes", () => {
  it("ends, and the server closes", async () => {
    const jobs = Jobtrack.make({ store: MemoryStore.layer, definitions: [def] })
    const router = jobsRouter(jobs, { owner: () => "alice" })
    const { server, port } = await listen(new Koa().use(router.routes()))
    // pending: no runner, so the stream would stay open for as long as the job waits
    const { job } = await jobs.enqueue(def, {}, { owner: "alice" })
    const { first, ended } = follow(port, `/${job.id}/events`, "event: ")
    await within(first, 5_000, "the stream's first event")
    await within(jobs.close(), 5_000, "jobs.close()")
    const body = await within(ended, 5_000, "the stream's end after close()")
    assert.include(body, "pending")
    await within(new Promise<void>((resolve) => server.close(() => resolve())), 5_000, "server.close()")
  })
})

describe("the console's change stream when the console closes", () => {
  it("ends at admin.close(), and the server closes", async () => {
    // before: the stream kept ticking after admin.close() and jobs.close(); server.close() never returned
    const jobs = Jobtrack.make({ store: MemoryStore.layer, definitions: [def] })
    const admin = jobsConsole(jobs, { access: () => ({ actor: "ops@example.com", actions: [] }), runBulk: false })
    const { server, port } = await listen(new Koa().use(admin.routes()))
    const { first, ended } = follow(port, "/api/events", "event: ready")
    await within(first, 5_000, "the stream's ready event")
    await within(admin.close(), 5_000, "admin.close()")
    await within(ended, 5_000, "the stream's end after admin.close()")
    await within(jobs.close(), 5_000, "jobs.close()")
    await within(new Promise<void>((resolve) => server.close(() => resolve())), 5_000, "server.close()")
  })
})
