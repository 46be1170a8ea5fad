/**
 * `jobsRouter(tracker, options)`: a @koa/router for the HTTP contract —
 * enqueue, list, get, events (SSE), cancel, retry, delete, stats — that a
 * host mounts under any prefix. It needs no other middleware: it parses its
 * own JSON bodies (with {@link BodyReader}), with a size limit.
 *
 * @since 0.1.0
 */
import { Duration } from "effect"
import Router from "@koa/router"
import type { Context } from "koa"
import type { Jobtrack, Tracker } from "@jobtrack/core"
import * as BodyReader from "./BodyReader.js"
import { error } from "./HttpError.js"
import type { HttpResponse } from "./HttpError.js"
import * as JobsApi from "./JobsApi.js"
import * as SsePacing from "./SsePacing.js"
import * as SseResponse from "./sseResponse.js"
import * as StreamSlots from "./StreamSlots.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface JobsRouterOptions extends JobsApi.ApiOptions {
  /**
   * Who is asking; the host's auth decides. `undefined` or `null`: anonymous.
   * Every route is scoped to this owner.
   */
  readonly owner: (ctx: Context) => string | null | undefined | Promise<string | null | undefined>
  /** Serve anonymous callers (their jobs are those without an owner); otherwise 401. Default false. */
  readonly allowAnonymous?: boolean
  /** Mount point, e.g. "/api/jobs" (default: none, mount with a parent router). */
  readonly prefix?: string
  /**
   * Query parameters the host reads itself, left out before the routes check
   * theirs (an unknown one is a 400): e.g. `["access_token"]` when `owner`
   * authenticates an `EventSource`, which cannot send headers. Default none.
   */
  readonly hostQueryParameters?: ReadonlyArray<string>
  /**
   * Largest JSON body accepted, in bytes (default 100 KiB), also after
   * decompression; larger is 413. A body that cannot be decoded is 400, an
   * unsupported `Content-Encoding` 415 (see {@link BodyReader}).
   */
  readonly bodyLimit?: number
  /** Comment line sent on idle event streams (default 15 s). */
  readonly heartbeat?: Duration.Input
  /**
   * Event streams (`GET /:id/events`) one owner may hold open at once
   * (default 20); one more is answered 429 `too_many_streams` with
   * `Retry-After`. A stream holds a socket and its buffers until the client
   * leaves (it never times out). 20 covers a user's few tabs each following
   * a few jobs (a browser opens at most 6 connections per origin over
   * HTTP/1.1) and bounds one owner to ~20 sockets. Anonymous callers are
   * counted by their address (`ctx.ip`), an IPv6 one by its /64, so one
   * anonymous client cannot take every anonymous viewer's streams. Behind a
   * proxy set `app.proxy = true` and `app.maxIpsCount` to the number of
   * proxies: otherwise `ctx.ip` is the first `X-Forwarded-For` entry, which
   * the client writes, and each made-up address gets a cap of its own.
   * `Infinity`: no cap.
   */
  readonly maxStreamsPerOwner?: number
  /**
   * Event streams this router holds open at once in all (default 1,000,
   * about 30 MB of socket buffers and 1,000 file descriptors); one more is
   * answered 429 `too_many_streams` with `Retry-After`. `Infinity`: no cap.
   */
  readonly maxStreams?: number
  /**
   * Unsent bytes one event stream may hold for a client that does not keep
   * up (default 64 KiB, at least the socket's high-water mark). Past it the
   * stream writes nothing more until the client has read what is buffered,
   * then only the job's latest view: views are states, the latest supersedes
   * the ones in between (see {@link SsePacing}).
   *
   * @since 0.2.0
   */
  readonly maxStreamBufferBytes?: number
  /**
   * How long a stream's client may stay behind (not read what is buffered)
   * before it is disconnected and counted in
   * `jobtrack_sse_streams_dropped_total` (default 30 s). An `EventSource`
   * reconnects and gets the current view at once.
   *
   * @since 0.2.0
   */
  readonly slowStreamTimeout?: Duration.Input
}

/**
 * The JSON body reader shared with the console's router: see {@link BodyReader.make}.
 *
 * @internal
 */
export const bodyReader = BodyReader.make

const write = (ctx: Context, response: HttpResponse) => {
  ctx.status = response.status
  for (const [name, value] of Object.entries(response.headers ?? {})) ctx.set(name, value)
  if (response.body !== undefined) ctx.body = response.body
}

/** The request's query: a parameter given more than once keeps its values (see `JobsApi.Query`). */
/** The request's query without the parameters the host reads itself (`hostQueryParameters`). */
const queryWithout = (host: ReadonlyArray<string>) => (ctx: Context): JobsApi.Query => {
  if (host.length === 0) return ctx.query
  const { ...rest } = ctx.query
  for (const name of host) delete rest[name]
  return rest
}

/**
 * @example
 * ```ts
 * import Koa from "koa"
 * import { jobsRouter } from "@jobtrack/adapter-koa"
 *
 * const router = jobsRouter(jobs, {
 *   prefix: "/api/jobs",
 *   owner: (ctx) => ctx.state.user?.id,
 *   expose: [extractNewsletters]
 * })
 * new Koa().use(router.routes()).use(router.allowedMethods()).listen(3000)
 * ```
 * @since 0.1.0
 * @category constructors
 */
export const jobsRouter = (tracker: Tracker.TrackerShape | Jobtrack.Jobtrack, options: JobsRouterOptions): Router => {
  const router = new Router(options.prefix ? { prefix: options.prefix } : {})
  const readBody = bodyReader(options.bodyLimit ?? 100 * 1024)
  const heartbeatMs = Duration.toMillis(options.heartbeat ?? "15 seconds")
  const slots = StreamSlots.make({ perKey: options.maxStreamsPerOwner ?? 20, total: options.maxStreams ?? 1_000 }, {
    of: "jobsRouter options",
    perKey: "maxStreamsPerOwner",
    total: "maxStreams"
  })
  const limits = SsePacing.limits(options, "jobsRouter options")
  const query = queryWithout(options.hostQueryParameters ?? [])
  let api: Promise<JobsApi.JobsApi> | undefined
  /** The handlers, once the tracker (and so its store) is up; a failed start is tried again. */
  const getApi = () =>
    api ??= ("runtime" in tracker ? tracker.tracker() : Promise.resolve(tracker))
      .then((t) => JobsApi.make(t, options))
      .catch((e: unknown) => {
        api = undefined
        throw e
      })

  /** Resolve the caller and the API, or answer 401. */
  const caller = async (ctx: Context): Promise<JobsApi.Caller | undefined> => {
    const owner = (await options.owner(ctx)) ?? null
    if (owner === null && !options.allowAnonymous) {
      write(ctx, error(401, "unauthorized", "authentication required"))
      return undefined
    }
    return owner
  }
  /** `reads`: the query parameters the route reads, checked first (`list` and `stats` check their own). */
  const route = (
    f: (api: JobsApi.JobsApi, who: JobsApi.Caller, ctx: Context) => Promise<HttpResponse | void>,
    reads?: "events" | "other"
  ) =>
  async (ctx: Context) => {
    const who = await caller(ctx)
    if (who === undefined) return
    const refused = reads === undefined ? undefined : JobsApi.checkQuery(reads, query(ctx))
    if (refused !== undefined) return write(ctx, refused)
    const ready = await getApi().catch(() => undefined)
    if (!ready) return write(ctx, error(503, "store_unavailable", "the job store is unavailable"))
    const response = await f(ready, who, ctx)
    if (response) write(ctx, response)
  }

  router.get("/", route((api, who, ctx) => api.list(query(ctx), who)))
  router.get("/stats", route((api, who, ctx) => api.stats(query(ctx), who)))
  router.post("/:type", route(async (api, who, ctx) => {
    const body = await readBody(ctx)
    return "value" in body ? api.enqueue(ctx.params.type!, body.value, who) : body
  }, "other"))
  router.get("/:id", route((api, who, ctx) => api.get(ctx.params.id!, who), "other"))
  router.post("/:id/cancel", route((api, who, ctx) => api.cancel(ctx.params.id!, who), "other"))
  router.post("/:id/retry", route((api, who, ctx) => api.retry(ctx.params.id!, who), "other"))
  router.delete("/:id", route((api, who, ctx) => api.remove(ctx.params.id!, who), "other"))
  router.get("/:id/events", route(async (api, who, ctx) => {
    // sent by an EventSource when it reconnects; `?last_event_id=` for a page that resumes after a reload
    const last = ctx.get("last-event-id") || (typeof ctx.query.last_event_id === "string" ? ctx.query.last_event_id : "")
    // counted from here until the stream ends, however it ends
    // an anonymous caller by its address, an IPv6 one by its /64 (see StreamSlots.anonymousKey)
    const slot = slots.take(who ?? StreamSlots.anonymousKey(ctx.ip))
    if (!("release" in slot)) return slot
    try {
      const answer = await api.events(ctx.params.id!, who, last === "" ? undefined : last)
      if (!("events" in answer)) return answer
      await streamEvents(ctx, answer, heartbeatMs, limits)
    } finally {
      slot.release()
    }
  }, "events"))
  return router
}

/**
 * Write Server-Sent Events until the job's stream ends or the client goes
 * away: the job's shared watch writes each change's one text to this
 * response in its pass over every stream of the job (no fiber per stream).
 */
const streamEvents = async (
  ctx: Context,
  answer: JobsApi.EventsResponse,
  heartbeatMs: number,
  limits: SsePacing.Limits
) => {
  // left while the job was read: its `close` is past, so a stream joined now would never leave
  const res = SseResponse.open(ctx, 2000)
  if (res === undefined) return
  // a client behind gets the latest view when it catches up (views are states), or is dropped (SsePacing)
  const paced = SsePacing.make(res, limits, "jobs")
  const heartbeat = setInterval(() => {
    if (paced.keepingUp()) res.write(": heartbeat\n\n")
  }, heartbeatMs)
  let leave = () => {}
  try {
    await new Promise<void>((resolve) => {
      res.once("close", resolve)
      leave = answer.follow({
        // a `resume` frame says whether the client missed states: never replaced by a view
        frame: (frame) =>
          frame.event === "job" ? paced.latest(() => SseResponse.writeFrame(res, frame)) : SseResponse.writeFrame(res, frame),
        end: resolve
      })
    })
  } finally {
    clearInterval(heartbeat)
    leave()
    // the final view, kept while the client was behind, is written before the end
    paced.flush()
    if (!res.writableEnded) res.end()
    paced.ended()
  }
}
