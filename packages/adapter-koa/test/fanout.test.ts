/**
 * SSE fan-out (issue 13, item 5): many real SSE clients over HTTP on one
 * listening server share one change hub. Idle streams cost no store reads
 * beyond the one shared fallback poll, and a change reaches every client,
 * read from the store a handful of times rather than once per client.
 */
import type { AddressInfo } from "node:net"
import Koa from "koa"
import { Effect, Layer, Schema } from "effect"
import { JobDefinition, JobStore, Jobtrack, RetryPolicy } from "@jobtrack/core"
import type { JobStoreShape, Tracker } from "@jobtrack/core"
import { jobsRouter } from "@jobtrack/adapter-koa"
import { pglite } from "@jobtrack/adapter-kysely"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { sseChunks } from "./server.js"

const CLIENTS = Number(process.env.FANOUT_CLIENTS ?? 500)
const POLL_MS = 100

let release: () => void = () => {}
const gate = new Promise<void>((r) => (release = r))
const gated = JobDefinition.make({
  type: "gated",
  payload: Schema.Struct({}),
  retry: RetryPolicy.none,
  handler: (_, ctx) =>
    Effect.gen(function*() {
      yield* ctx.progress(10, "waiting")
      yield* Effect.promise(() => gate)
      yield* ctx.progress(50, "released")
      yield* Effect.never
    })
})

/** Store reads a watching stream makes (a view, a get, a queue position) and watch registrations. */
const reads = { count: 0 }
/** The tracker's watches the router opens (one per job shared by its streams, not one per stream). */
const watches = { count: 0 }

/** One SSE client: its frames' progress values and heartbeat comments, as they arrive. */
interface Client {
  readonly progress: Array<number>
  heartbeats: number
  readonly abort: AbortController
  /** Resolves when `until` holds for this client (checked after each chunk). */
  readonly when: (until: (c: Client) => boolean) => Promise<void>
}

const open = async (url: string): Promise<Client> => {
  const abort = new AbortController()
  const waiters: Array<{ until: (c: Client) => boolean; resolve: () => void }> = []
  const client: Client = {
    progress: [],
    heartbeats: 0,
    abort,
    when: (until) => until(client) ? Promise.resolve() : new Promise((resolve) => waiters.push({ until, resolve }))
  }
  const res = await fetch(url, { headers: { authorization: "Bearer ann" }, signal: abort.signal })
  assert.strictEqual(res.status, 200)
  void (async () => {
    try {
      for await (const blocks of sseChunks(res)) {
        for (const block of blocks) {
          client.heartbeats += block.comments.length
          if (block.data === undefined) continue
          const data = JSON.parse(block.data) as { progress?: number }
          if (typeof data.progress === "number") client.progress.push(data.progress)
        }
        for (const w of waiters.splice(0)) {
          if (w.until(client)) w.resolve()
          else waiters.push(w)
        }
      }
    } catch {
      // aborted
    }
  })()
  return client
}

/** `p`, or a failure naming `what` after `ms` (a bound on a real signal, not a timing assertion). */
const within = <A>(p: Promise<A>, ms: number, what: string) => {
  let timer: ReturnType<typeof setTimeout> | undefined
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`not within ${ms} ms: ${what}`)), ms)))
  ])
}

describe(`SSE fan-out to ${CLIENTS} clients over HTTP (PGlite store)`, () => {
  let url: string
  let close: () => Promise<void>
  let jobs: Jobtrack.Jobtrack
  beforeAll(async () => {
    const counted = Layer.effect(
      JobStore,
      Effect.map(Effect.orDie(pglite()), (inner): JobStoreShape => ({
        ...inner,
        view: (id) => Effect.suspend(() => (reads.count++, inner.view(id))),
        get: (id) => Effect.suspend(() => (reads.count++, inner.get(id))),
        queuePosition: (id) => Effect.suspend(() => (reads.count++, inner.queuePosition(id))),
        watching: (id) => Effect.suspend(() => (reads.count++, inner.watching(id)))
      }))
    )
    jobs = Jobtrack.make({
      store: counted,
      definitions: [gated],
      runner: { concurrency: 2, pollInterval: "50 millis", progressInterval: "20 millis" },
      watchPollInterval: `${POLL_MS} millis`
    })
    await jobs.start()
    const tracker = await jobs.tracker()
    const counting: Tracker.TrackerShape = { ...tracker, watch: (id) => (watches.count++, tracker.watch(id)) }
    const router = jobsRouter(counting, {
      prefix: "/api/jobs",
      owner: (ctx) => ctx.get("authorization").slice(7) || undefined,
      expose: [gated],
      heartbeat: "100 millis",
      // hundreds of streams of one owner: the point of this test
      maxStreamsPerOwner: Infinity,
      maxStreams: Infinity
    })
    const server = new Koa().use(router.routes()).use(router.allowedMethods()).listen(0, "127.0.0.1")
    await new Promise<void>((resolve) => server.once("listening", resolve))
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/jobs`
    close = async () => {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
      await jobs.close()
    }
  }, 120_000)
  afterAll(() => close())

  it("idle streams share one fallback poll; one change reaches every client with shared reads", async () => {
    const created = await fetch(`${url}/gated`, {
      method: "POST",
      headers: { authorization: "Bearer ann", "content-type": "application/json" },
      body: "{}"
    })
    assert.strictEqual(created.status, 202)
    const id = ((await created.json()) as { job_id: string }).job_id

    const clients: Array<Client> = []
    for (let i = 0; i < CLIENTS; i += 50) {
      clients.push(...await Promise.all(Array.from({ length: Math.min(50, CLIENTS - i) }, () => open(`${url}/${id}/events`))))
    }
    await within(Promise.all(clients.map((c) => c.when((c) => c.progress.includes(10)))), 60_000, "every client sees the job running")
    // the streams of one job share one watch (a watch per stream would be a fiber, a wake-up and a read each per change)
    assert.strictEqual(watches.count, 1)

    // idle: every client gets three more heartbeats (300 ms or more, three or more poll periods)
    const before = reads.count
    const t0 = performance.now()
    const marks = clients.map((c) => c.heartbeats)
    await within(Promise.all(clients.map((c, i) => c.when((c) => c.heartbeats >= marks[i]! + 3))), 60_000, "heartbeats")
    const idleReads = reads.count - before
    const periods = Math.ceil((performance.now() - t0) / POLL_MS)
    // per-stream polling would read at least once per stream per period
    assert.isBelow(idleReads, CLIENTS)
    assert.isAtMost(idleReads, periods + 1)

    // one change, every client
    const beforeChange = reads.count
    const sent = performance.now()
    release()
    await within(Promise.all(clients.map((c) => c.when((c) => c.progress.includes(50)))), 60_000, "every client sees the change")
    const deliveredMs = performance.now() - sent
    const changeReads = reads.count - beforeChange
    // one read for the change, and the shared fallback poll's (one per period) meanwhile; per-stream reads would be 500
    assert.isAtMost(changeReads, 2 + Math.ceil(deliveredMs / POLL_MS))
    assert.strictEqual(watches.count, 1)
    console.log(JSON.stringify({ clients: CLIENTS, watches: watches.count, idleReads, idlePeriods: periods, changeReads, deliveredToAllMs: Math.round(deliveredMs) }))

    for (const c of clients) c.abort.abort()
    await fetch(`${url}/${id}/cancel`, { method: "POST", headers: { authorization: "Bearer ann" } })
  }, 180_000)
})
