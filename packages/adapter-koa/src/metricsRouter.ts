/**
 * `metricsRouter(options)`: a @koa/router serving jobtrack's metrics (and
 * every other Effect metric of the process) in Prometheus text format, for a
 * scraper. The text is Effect's own `PrometheusMetrics.format()`; the router
 * adds the access check and, when given the tracker, samples the queue-depth
 * gauges from the store at each scrape.
 *
 * Access is the host's decision, per request, like the jobs router's owner:
 * `authorize(ctx)` false answers 404 (default, the route's existence is not
 * revealed) or 403. There is no open default: pass `authorize: () => true`
 * to serve everyone (e.g. on a port only the scraper reaches).
 *
 * @since 0.2.0
 */
import { Effect } from "effect"
import Router from "@koa/router"
import type { Context } from "koa"
import { Telemetry } from "@jobtrack/core"
import type { Jobtrack, Tracker } from "@jobtrack/core"
import { error } from "./HttpError.js"

/**
 * @since 0.2.0
 * @category models
 */
export interface MetricsRouterOptions {
  /** May this request read the metrics? E.g. a bearer token check. */
  readonly authorize: (ctx: Context) => boolean | Promise<boolean>
  /** The answer when it may not (default 404). */
  readonly denied?: 403 | 404
  /** Route path (default "/metrics"). */
  readonly path?: string
  /** Mount point (default: none). */
  readonly prefix?: string
  /** Sample the queue-depth gauges of its job types from the store at each scrape. */
  readonly tracker?: Tracker.TrackerShape | Jobtrack.Jobtrack
}

const contentType = "text/plain; version=0.0.4; charset=utf-8"

/**
 * Effect's Prometheus formatter, loaded on the first scrape: it links effect's
 * HTTP server modules (about 40 files), which a host that never serves metrics
 * should not load when it imports this package.
 */
const prometheus = () => import("effect/observability/PrometheusMetrics")

/**
 * @example
 * ```ts
 * import Koa from "koa"
 * import { metricsRouter } from "@jobtrack/adapter-koa"
 *
 * const metrics = metricsRouter({
 *   tracker: jobs,
 *   authorize: (ctx) => ctx.get("authorization") === `Bearer ${process.env.METRICS_TOKEN}`
 * })
 * new Koa().use(metrics.routes()).listen(9464)
 * ```
 * @since 0.2.0
 * @category constructors
 */
export const metricsRouter = (options: MetricsRouterOptions): Router => {
  const router = new Router(options.prefix ? { prefix: options.prefix } : {})
  const denied = options.denied ?? 404
  const tracker = options.tracker
  const resolve = tracker === undefined
    ? undefined
    : () => ("runtime" in tracker ? tracker.tracker() : Promise.resolve(tracker))

  router.get(options.path ?? "/metrics", async (ctx) => {
    let allowed = false
    try {
      allowed = (await options.authorize(ctx)) === true
    } catch {
      allowed = false
    }
    if (!allowed) {
      const e = denied === 403 ? error(403, "forbidden", "not allowed") : error(404, "not_found", "not found")
      ctx.status = e.status
      ctx.body = e.body
      return
    }
    if (resolve) {
      // the store may be down: the counters are still worth serving
      const t = await resolve().catch(() => undefined)
      if (t) {
        const queues = new Map([...t.definitions].map(([type, def]) => [type, def.queue]))
        await Effect.runPromise(Telemetry.sampleQueueDepth(t.stats(), queues))
      }
    }
    ctx.set("Cache-Control", "no-store")
    ctx.type = contentType
    const { format } = await prometheus()
    ctx.body = await Effect.runPromise(format())
  })
  return router
}
