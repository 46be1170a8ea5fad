/**
 * `jobsConsole(jobs, { prefix, access })`: the operator console as a
 * @koa/router — the page (built with the package, served from it: no CDN)
 * and its admin API under `<prefix>/api/` — mounted in the host's own Koa app
 * in one line. The host decides per request who may see it and what they may
 * do (`access`); mutations are refused across sites (CSRF: `Sec-Fetch-Site`,
 * `Origin`, and a per-operator token in a header a cross-site form cannot
 * send); every action lands in the audit trail. Actions by filter run as
 * tracked jobs on a small runner this router starts (see {@link ConsoleBulk}).
 *
 * @since 0.2.0
 */
import { extname, join, normalize, sep } from "node:path"
import { fileURLToPath } from "node:url"
import { Duration, Effect, Fiber } from "effect"
import type { Scope } from "effect"
import Router from "@koa/router"
import type { Context } from "koa"
import { JobStore, Runner } from "@jobtrack/core"
import type { JobChange, Jobtrack, JobStoreShape } from "@jobtrack/core"
import { error } from "./HttpError.js"
import type { HttpResponse } from "./HttpError.js"
import * as ConsoleApi from "./ConsoleApi.js"
import * as ConsoleBulk from "./ConsoleBulk.js"
import * as ConsoleSchedules from "./ConsoleSchedules.js"
import { bodyReader } from "./jobsRouter.js"
import * as RunningWatches from "./RunningWatches.js"
import * as SsePacing from "./SsePacing.js"
import * as SseResponse from "./sseResponse.js"
import * as StreamSlots from "./StreamSlots.js"
import * as StreamModule from "./streamModule.js"

/**
 * @since 0.2.0
 * @category models
 */
export interface JobsConsoleOptions extends ConsoleApi.ConsoleApiOptions {
  /** Mount point, e.g. "/admin/jobs". */
  readonly prefix?: string
  /**
   * Who is asking and what they may do; `null`/`undefined`: no access (every
   * console URL answers 404, so its existence is not revealed).
   */
  readonly access: (
    ctx: Context
  ) => ConsoleApi.Operator | null | undefined | Promise<ConsoleApi.Operator | null | undefined>
  /** Run actions by filter in this process (default true; at least one process must). */
  readonly runBulk?: boolean
  /** Largest JSON body accepted, in bytes (default 64 KiB). */
  readonly bodyLimit?: number
  /** How often an idle event stream says `tick` so views re-read (default 5 s). */
  readonly tick?: Duration.Input
  /**
   * Change streams (`/api/events`) open at once in all (default 100: each
   * open console page holds one; operators are few). One more is answered
   * 429 `too_many_streams` with `Retry-After`. `Infinity`: no cap.
   */
  readonly maxStreams?: number
  /**
   * Change streams one operator (`actor`) may hold open at once (default 20:
   * a page holds one per visible tab; operators that `access` maps to one
   * actor share it). One more is answered 429 with `Retry-After` (the page
   * says so and tries again), so one operator's tabs, or a script with an
   * operator's credentials, cannot take every slot of `maxStreams` and stop
   * every other operator's live updates. `Infinity`: no cap of its own.
   *
   * @since 0.2.0
   */
  readonly maxStreamsPerOperator?: number
  /**
   * Unsent bytes one change stream may hold for a page that does not keep
   * up (default 64 KiB, at least the socket's high-water mark). Past it the
   * stream writes nothing more until the page has read what is buffered,
   * then one `resync` in place of every batch it missed (the page re-reads
   * what it shows; see {@link SsePacing}). Ticks are skipped meanwhile.
   *
   * @since 0.2.0
   */
  readonly maxStreamBufferBytes?: number
  /**
   * How long a page may stay behind before its stream is disconnected and
   * counted in `jobtrack_sse_streams_dropped_total` (default 30 s); the page
   * reconnects.
   *
   * @since 0.2.0
   */
  readonly slowStreamTimeout?: Duration.Input
}

/**
 * The console's router, and `close()` to stop its bulk runner and end its
 * open change streams (so the host's `server.close()` can finish).
 *
 * @since 0.2.0
 * @category models
 */
export interface JobsConsole extends Router {
  readonly close: () => Promise<void>
}

const assetsDir = fileURLToPath(new URL("../console/", import.meta.url))
const types: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png"
}
const securityHeaders = (ctx: Context) => {
  ctx.set("X-Content-Type-Options", "nosniff")
  ctx.set("Referrer-Policy", "same-origin")
  ctx.set("X-Frame-Options", "DENY")
  ctx.set(
    "Content-Security-Policy",
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
      "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'"
  )
}

const write = (ctx: Context, response: HttpResponse) => {
  ctx.status = response.status
  for (const [name, value] of Object.entries(response.headers ?? {})) ctx.set(name, value)
  if (response.body !== undefined) ctx.body = response.body
}
const query = (ctx: Context): Record<string, string | undefined> => {
  const out: Record<string, string | undefined> = {}
  for (const [k, v] of Object.entries(ctx.query)) out[k] = Array.isArray(v) ? v.join(",") : v
  return out
}

/**
 * Whether a mutation comes from the console's own page: not from another
 * site (`Sec-Fetch-Site`, `Origin`), and with the operator's token.
 */
const crossSite = (ctx: Context, api: ConsoleApi.ConsoleApi, op: ConsoleApi.Operator): string | undefined => {
  const site = ctx.get("sec-fetch-site")
  if (site !== "" && site !== "same-origin") return "cross-site request refused"
  const origin = ctx.get("origin")
  // the server's own origin (Koa 3's `ctx.origin` may echo the header); behind a proxy, set `app.proxy`
  if (origin !== "" && origin !== `${ctx.protocol}://${ctx.host}`) return "cross-origin request refused"
  if (!api.tokenValid(ctx.get("x-console-token") || undefined, op)) return "missing or invalid console token"
  return undefined
}

/**
 * @example
 * ```ts
 * import Koa from "koa"
 * import { jobsConsole } from "@jobtrack/adapter-koa"
 *
 * const admin = jobsConsole(jobs, {
 *   prefix: "/admin/jobs",
 *   access: (ctx) => (ctx.state.admin ? { actor: ctx.state.admin, actions: ["retry", "cancel"] } : null)
 * })
 * new Koa().use(admin.routes()).listen(3000)
 * ```
 * @since 0.2.0
 * @category constructors
 */
export const jobsConsole = <Trx>(
  jobs: Jobtrack.Jobtrack<Trx> | { readonly store: JobStoreShape },
  options: JobsConsoleOptions
): JobsConsole => {
  const router = new Router(options.prefix ? { prefix: options.prefix } : {}) as Router & { close?: () => Promise<void> }
  const readBody = bodyReader(options.bodyLimit ?? 64 * 1024)
  const tickMs = Duration.toMillis(options.tick ?? "5 seconds")
  const maxStreams = options.maxStreams ?? 100
  const slots = StreamSlots.make({ perKey: options.maxStreamsPerOperator ?? 20, total: maxStreams }, {
    of: "jobsConsole options",
    perKey: "maxStreamsPerOperator",
    total: "maxStreams"
  })
  const limits = SsePacing.limits(options, "jobsConsole options")
  const runtime = "runtime" in jobs ? jobs.runtime : undefined
  let storePromise: Promise<JobStoreShape> | undefined
  const getStore = () =>
    storePromise ??= ("store" in jobs ? Promise.resolve(jobs.store) : runtime!.runPromise(Effect.service(JobStore)))
      .catch((e: unknown) => {
        storePromise = undefined
        throw e
      })
  let api: ConsoleApi.ConsoleApi | undefined
  const getApi = async () => (api ??= ConsoleApi.make(await getStore(), options))

  // actions by filter: a runner for the bulk job type only, in the host's runtime
  let bulk: Fiber.Fiber<unknown, unknown> | undefined
  if (options.runBulk !== false && runtime) {
    bulk = runtime.runFork(
      Effect.scoped(
        Effect.andThen(
          Runner.make({ definitions: [ConsoleBulk.definition], concurrency: 2, prune: false }) as Effect.Effect<
            Runner.Runner,
            never,
            JobStore | Scope.Scope
          >,
          Effect.never
        )
      )
    )
  }
  /** The change streams open now; `close()` ends them, and none opens after it. */
  const streams: Streams = { open: new Set(), closed: false }
  router.close = async () => {
    streams.closed = true
    await Effect.runPromise(Fiber.interruptAll([...streams.open]))
    if (bulk && runtime) await runtime.runPromise(Fiber.interrupt(bulk)).catch(() => {})
  }

  const route = (
    f: (api: ConsoleApi.ConsoleApi, op: ConsoleApi.Operator, ctx: Context) => Promise<HttpResponse | void> | HttpResponse | void,
    mutation = false
  ) =>
  async (ctx: Context) => {
    securityHeaders(ctx)
    ctx.set("Cache-Control", "no-store")
    const op = (await options.access(ctx)) ?? null
    if (op === null) return write(ctx, error(404, "not_found", "not found"))
    const ready = await getApi().catch(() => undefined)
    if (!ready) return write(ctx, error(503, "store_unavailable", "the job store is unavailable"))
    if (mutation) {
      const refused = crossSite(ctx, ready, op)
      if (refused) return write(ctx, error(403, "forbidden", refused))
    }
    const response = await f(ready, op, ctx)
    if (response) write(ctx, response)
  }
  const withBody = (f: (api: ConsoleApi.ConsoleApi, body: unknown, op: ConsoleApi.Operator, ctx: Context) => Promise<HttpResponse>) =>
    route(async (a, op, ctx) => {
      const body = await readBody(ctx)
      return "value" in body ? f(a, body.value, op, ctx) : body
    }, true)

  router.get("/api/me", route((a, op) => a.me(op)))
  router.get("/api/overview", route((a, op, ctx) => a.overview(query(ctx), op)))
  router.get("/api/series", route((a, op, ctx) => a.series(query(ctx), op)))
  router.get("/api/jobs", route((a, op, ctx) => a.list(query(ctx), op)))
  router.get("/api/jobs/:id", route((a, op, ctx) => a.get(ctx.params.id!, op)))
  router.post("/api/jobs/:id/action", withBody((a, body, op, ctx) => a.act(ctx.params.id!, body, op)))
  router.post("/api/selection", withBody((a, body, op) => a.actOnSelection(body, op)))
  router.post("/api/bulk", withBody((a, body, op) => a.actByFilter(body, op)))
  router.get("/api/audit", route((a, op, ctx) => a.audit(query(ctx), op)))
  // every owner's schedules with their next runs (read-only; a bare store has none)
  const schedules = "schedules" in jobs ? jobs.schedules : undefined
  router.get("/api/schedules", route(() => ConsoleSchedules.list(schedules)))
  // pause, resume, trigger: each as the operator may, audited
  router.post("/api/schedules/:name/action", withBody(async (_a, body, op, ctx) =>
    ConsoleSchedules.act(schedules, await getStore(), ctx.params.name!, body, op)))
  router.get("/api/events", route(async (_a, op, ctx) => {
    // counted from here until the stream ends, however it ends: per operator, and in all
    const slot = slots.take(op.actor)
    if (!("release" in slot)) return slot
    try {
      const store = await getStore()
      const job = typeof ctx.query.job === "string" ? ctx.query.job : undefined
      await streamChanges(ctx, store, job, tickMs, streams, limits)
    } finally {
      slot.release()
    }
  }))
  router.all("/api/{*rest}", route(() => error(404, "not_found", "no such console endpoint")))

  // the page's asset URLs are relative: it must be served with a trailing slash
  if (options.prefix) {
    const bare = options.prefix.replace(/\/+$/, "")
    router.get("/", route((_a, _op, ctx) => {
      if (ctx.path === bare) {
        ctx.redirect(`${bare}/${ctx.querystring ? `?${ctx.querystring}` : ""}`)
        return
      }
      return page(ctx)
    }))
  }
  // the page: the built assets, and index.html for every other path
  const page = async (ctx: Context): Promise<HttpResponse | void> => {
    const under = options.prefix && ctx.path.startsWith(options.prefix) ? ctx.path.slice(options.prefix.length) : ctx.path
    let decoded: string
    try {
      decoded = decodeURIComponent(under)
    } catch {
      // a malformed escape (e.g. %E0%A4%A) names no file
      return error(404, "not_found", "not found")
    }
    const rel = normalize(decoded).replace(/^([/\\])+/, "")
    const file = rel !== "" && rel.startsWith("assets" + sep) ? join(assetsDir, rel) : join(assetsDir, "index.html")
    if (!file.startsWith(assetsDir)) return error(404, "not_found", "not found")
    try {
      const content = await process.getBuiltinModule("node:fs/promises").readFile(file) // taken when first served
      ctx.type = types[extname(file)] ?? "application/octet-stream"
      if (file.includes(`${sep}assets${sep}`)) ctx.set("Cache-Control", "public, max-age=31536000, immutable")
      ctx.body = content
    } catch {
      return error(404, "not_found", "not found: build the console (pnpm run build)")
    }
  }
  router.get("/{*path}", route((_a, _op, ctx) => page(ctx)))
  return router as JobsConsole
}

/**
 * Server-Sent Events of the store's changes: `ready` once subscribed (the page
 * re-reads what it shows: nothing after this point is missed; `tick_ms` says how often an idle
 * stream ticks, so the page can tell a stalled connection), then
 * `changes` (batched: the first at once, then at most every 250 ms), `resync` when the store may have
 * missed some (or when a batch is too large to be worth applying), and `tick`
 * every few seconds (a fallback: progress of unwatched jobs, an announcement
 * lost without a resync). With `?job=`, that job is watched while the stream
 * is open; without, the store's status feed is (`watchingAll`: every job's
 * status changes, coarsely; one registration per process whatever the
 * number of streams, none while no console is open), and so are the running
 * jobs the overview shows (`RunningWatches`: their progress is announced).
 */
/** The changes of a batch without resyncs, each coarse `queueChanged` once. */
const distinct = (list: ReadonlyArray<JobChange>): Array<JobChange> => {
  const seen = new Set<string>()
  return list.filter((c) => {
    if (c.kind === "resync") return false
    if (c.kind !== "queueChanged") return true
    const key = `${c.queue}\u0000${c.type}\u0000${c.status}`
    return seen.has(key) ? false : (seen.add(key), true)
  })
}

/** The console's open change streams (each its fiber), and whether the console was closed. */
interface Streams {
  readonly open: Set<Fiber.Fiber<void, unknown>>
  closed: boolean
}

const streamChanges = async (
  ctx: Context,
  store: JobStoreShape,
  job: string | undefined,
  tickMs: number,
  streams: Streams,
  limits: SsePacing.Limits
) => {
  if (streams.closed) {
    ctx.status = 503
    return
  }
  // left while the store was awaited: its `close` is past, so a stream begun now would never end
  const res = SseResponse.open(ctx, 1000)
  if (res === undefined) return
  const send = (event: string, data: unknown) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`)
  // a client behind gets one resync when it catches up (the page re-reads), or is dropped (SsePacing)
  const paced = SsePacing.make(res, limits, "console")
  let pending: Array<JobChange> = []
  const flush = () => {
    if (pending.length === 0) return
    const list = pending
    pending = []
    if (!paced.keepingUp()) return paced.latest(() => send("resync", {}))
    paced.latest(() => {
      if (list.some((c) => c.kind === "resync")) send("resync", {})
      const changed = distinct(list)
      // a flood is a resync: the page re-reads instead of applying thousands of changes
      if (changed.length > 500) send("resync", {})
      else if (changed.length > 0) send("changes", changed)
    })
  }
  // at most one batch per 250 ms; the first change after a quiet spell goes out at once, and an
  // idle stream holds no timer but its tick
  let timer: ReturnType<typeof setTimeout> | undefined
  let flushedAt = 0
  const soon = () => {
    if (timer !== undefined) return
    timer = setTimeout(() => {
      timer = undefined
      flushedAt = Date.now()
      flush()
    }, Math.max(0, flushedAt + 250 - Date.now()))
  }
  const program = Effect.scoped(
    Effect.gen(function*() {
      yield* (job !== undefined ? store.watching(job) : store.watchingAll).pipe(Effect.ignore)
      // a list or overview stream watches the running jobs the overview shows: their progress is live too
      const running = job === undefined
        ? yield* Effect.acquireRelease(Effect.sync(() => RunningWatches.make(store)), (w) => w.release)
        : undefined
      // subscribe first (a pull subscribes when made), then say ready: nothing after it is missed
      const Stream = yield* StreamModule.load
      const pull = yield* Stream.toPull(store.changes)
      if (running) yield* running.refresh
      let refreshedAt = Date.now()
      send("ready", { at: new Date().toISOString(), tick_ms: tickMs })
      yield* Effect.forever(Effect.flatMap(pull, (batch) =>
        Effect.sync(() => {
          pending.push(...batch)
          soon()
        }).pipe(
          // the running set may have changed: re-read it, at most every 250 ms
          Effect.andThen(
            running && RunningWatches.concerns(batch)
              ? Effect.suspend(() => Effect.sleep(Math.max(0, refreshedAt + 250 - Date.now()))).pipe(
                Effect.andThen(running.refresh),
                Effect.andThen(Effect.sync(() => (refreshedAt = Date.now())))
              )
              : Effect.void
          )
        )))
    })
  ) as Effect.Effect<void, unknown>
  const fiber = Effect.runFork(program)
  streams.open.add(fiber)
  const tick = setInterval(() => {
    if (paced.keepingUp()) send("tick", {})
  }, tickMs)
  const gone = () => Effect.runFork(Fiber.interrupt(fiber))
  res.once("close", gone)
  try {
    await Effect.runPromise(Fiber.await(fiber))
  } finally {
    streams.open.delete(fiber)
    clearInterval(tick)
    if (timer !== undefined) clearTimeout(timer)
    res.off("close", gone)
    if (!res.writableEnded) res.end()
    paced.ended()
  }
}
