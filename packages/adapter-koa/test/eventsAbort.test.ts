/**
 * An event stream whose client leaves before it starts: the client can go
 * while the router reads the job (its owner check), and then the response's
 * `close` has fired before the stream listens for it. Such a stream must not
 * join the job's shared watch (it would never leave: the watch, its reads and
 * a heartbeat would live until the job ends). The job's read waits on a gate
 * the test opens only after every client has aborted and the server has seen
 * each connection close, so the window is hit every time. The console's
 * change stream the same, its window held open by the access check.
 */
import type { AddressInfo } from "node:net"
import Koa from "koa"
import { Effect, Stream } from "effect"
import { MemoryStore } from "@jobtrack/core"
import type { JobStoreShape, JobView, Tracker } from "@jobtrack/core"
import { jobsConsole, jobsRouter } from "@jobtrack/adapter-koa"
import { afterAll, assert, beforeAll, describe, it } from "vitest"

const ID = "0195f3c2-1111-7000-8000-000000000001"
const CLIENTS = 20

const view: JobView = {
  id: ID,
  type: "work",
  queue: "default",
  payload: {},
  result: null,
  status: "pending",
  progress: 0,
  progressMessage: null,
  errorMessage: null,
  errors: [],
  attempts: 0,
  maxAttempts: 1,
  priority: 0,
  runAt: new Date(0),
  owner: "ann",
  key: null,
  groupKey: null,
  groupLimit: null,
  lockedBy: null,
  lockedUntil: null,
  token: 0,
  cancelRequested: false,
  createdAt: new Date(0),
  startedAt: null,
  completedAt: null,
  nextRetryAt: null,
  updatedAt: new Date(1_000),
  queuePosition: null,
  queuePositionCapped: false
}

/** A count, and a wait (bounded by `ms`) until it reaches a number. */
const counter = () => {
  let n = 0
  const waiters: Array<{ at: number; resolve: () => void }> = []
  return {
    add: () => {
      n++
      for (const w of waiters.filter((w) => w.at <= n)) w.resolve()
    },
    get: () => n,
    reach: (at: number, what: string, ms = 20_000) =>
      new Promise<void>((resolve, reject) => {
        if (n >= at) return resolve()
        const timer = setTimeout(() => reject(new Error(`${what}: ${n} of ${at} after ${ms} ms`)), ms)
        waiters.push({ at, resolve: () => (clearTimeout(timer), resolve()) })
      })
  }
}

type Counter = ReturnType<typeof counter>

/** A listening Koa app with `mount`'s routes, counting closed connections and returned handlers. */
const serve = async (mount: (app: Koa) => void) => {
  const closed = counter()
  const handled = counter()
  const app = new Koa()
  app.use(async (ctx, next) => {
    ctx.res.once("close", () => closed.add())
    try {
      await next()
    } finally {
      handled.add()
    }
  })
  mount(app)
  const server = app.listen(0, "127.0.0.1")
  await new Promise<void>((r) => server.once("listening", () => r()))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    closed,
    handled,
    close: () => {
      server.closeAllConnections()
      return new Promise<void>((r) => server.close(() => r()))
    }
  }
}
type Served = Awaited<ReturnType<typeof serve>>

/**
 * `CLIENTS` requests to `url`, all aborted once `waiting` counts them at the
 * gate; then, once the server has seen every connection close, the gate opens
 * and every handler must return (a stream that began would wait for a `close`
 * that is past).
 */
const leaveBeforeStart = async (served: Served, url: string, waiting: Counter, open: () => void) => {
  const clients = Array.from({ length: CLIENTS }, () => {
    const ac = new AbortController()
    const response = fetch(url, { signal: ac.signal }).catch(() => undefined)
    return { ac, response }
  })
  await waiting.reach(CLIENTS, "requests waiting at the gate")
  for (const c of clients) c.ac.abort()
  await Promise.all(clients.map((c) => c.response))
  await served.closed.reach(CLIENTS, "connections closed")
  open()
  await served.handled.reach(CLIENTS, "handlers returned")
}

describe("an event stream whose client left before it started", () => {
  let open: () => void = () => {}
  const gate = new Promise<void>((r) => (open = r))
  const reads = counter()
  const watch = { started: 0, ended: 0 }
  // the job's read waits for the gate; its watch never ends by itself (a pending job)
  const tracker = {
    get: (_id: string) =>
      Effect.promise(() => {
        reads.add()
        return gate
      }).pipe(Effect.as(view)),
    watch: (_id: string) =>
      Stream.concat(Stream.make(view), Stream.never).pipe(
        Stream.onStart(Effect.sync(() => void watch.started++)),
        Stream.ensuring(Effect.sync(() => void watch.ended++))
      )
  } as unknown as Tracker.TrackerShape

  let served: Served
  beforeAll(async () => {
    const router = jobsRouter(tracker, { owner: () => "ann", heartbeat: "50 millis" })
    served = await serve((app) => app.use(router.routes()))
  })
  afterAll(async () => {
    open()
    await served.close()
  })

  it("does not join the job's watch, and its handler returns", async () => {
    // every request is in the router, waiting on the job's read
    await leaveBeforeStart(served, `${served.url}/${ID}/events`, reads, open)
    assert.strictEqual(watch.started - watch.ended, 0)
    assert.strictEqual(watch.started, 0)
  })
})

describe("a console change stream whose client left before it started", () => {
  let open: () => void = () => {}
  const gate = new Promise<void>((r) => (open = r))
  const asked = counter()
  const registered = { watching: 0 }
  let served: Served
  beforeAll(async () => {
    const memory = await Effect.runPromise(MemoryStore.make)
    // counts the job watches the stream registers while it is open
    const store: JobStoreShape = {
      ...memory,
      watching: (id) => Effect.andThen(Effect.sync(() => void registered.watching++), memory.watching(id))
    }
    // the access check waits for the gate
    const admin = jobsConsole({ store }, {
      access: async () => {
        asked.add()
        await gate
        return { actor: "op", actions: [] }
      },
      tick: "50 millis"
    })
    served = await serve((app) => app.use(admin.routes()))
  })
  afterAll(async () => {
    open()
    await served.close()
  })

  it("is not begun: no watch registered, and its handler returns", async () => {
    await leaveBeforeStart(served, `${served.url}/api/events?job=${ID}`, asked, open)
    assert.strictEqual(registered.watching, 0)
  })
})
