/**
 * `schedulesRouter(jobs, { access })`: the cron schedules of a `Jobtrack` over
 * HTTP — list them with their next runs, read one, pause, resume, trigger now.
 * The host decides per request who is asking (`access`): which schedules
 * they see (all, for an operator, or those whose jobs belong to one owner)
 * and whether they may change them. A schedule the caller may not see answers
 * like an unknown name (404), so its existence is not revealed; no access at
 * all is a 404 on every route.
 *
 * Mutations are POSTs that must carry a JSON content type (a cross-site HTML
 * form cannot send one without a CORS preflight) and are refused when the
 * browser says the request comes from another site (`Sec-Fetch-Site`).
 *
 * @since 0.2.0
 */
import Router from "@koa/router"
import type { Context } from "koa"
import { ScheduleNotFound } from "@jobtrack/core"
import type { Jobtrack, Scheduler } from "@jobtrack/core"
import { error } from "./HttpError.js"
import type { HttpResponse } from "./HttpError.js"

/**
 * What a caller may do with schedules.
 *
 * @since 0.2.0
 * @category models
 */
export interface ScheduleAccess {
  /** `"all"` (an operator), or only the schedules whose jobs belong to this owner (`null`: those without one). */
  readonly sees: "all" | { readonly owner: string | null }
  /** May pause, resume and trigger the schedules it sees (default false: 403). */
  readonly manage?: boolean
}

/**
 * @since 0.2.0
 * @category models
 */
export interface SchedulesRouterOptions {
  /** Mount point, e.g. "/admin/schedules". */
  readonly prefix?: string
  /** Who is asking; `null`/`undefined`: no access (404 on every route). */
  readonly access: (ctx: Context) => ScheduleAccess | null | undefined | Promise<ScheduleAccess | null | undefined>
}

/**
 * A schedule on the wire.
 *
 * @since 0.2.0
 * @category models
 */
export interface WireSchedule {
  readonly name: string
  readonly cron: string
  readonly time_zone: string
  readonly type: string
  readonly owner: string | null
  readonly missed: string
  readonly paused: boolean
  readonly last_tick_at: string | null
  readonly last_job_id: string | null
  readonly next_run_at: string | null
  readonly next_runs: ReadonlyArray<string>
}

/**
 * @since 0.2.0
 * @category constructors
 */
export const toWire = (s: Scheduler.ScheduleInfo): WireSchedule => ({
  name: s.name,
  cron: s.cron,
  time_zone: s.timeZone,
  type: s.type,
  owner: s.owner,
  missed: s.missed,
  paused: s.paused,
  last_tick_at: s.lastTickAt?.toISOString() ?? null,
  last_job_id: s.lastJobId,
  next_run_at: s.nextRunAt?.toISOString() ?? null,
  next_runs: s.nextRuns.map((d) => d.toISOString())
})

const visible = (access: ScheduleAccess, s: Scheduler.ScheduleInfo) =>
  access.sees === "all" || access.sees.owner === s.owner

const notFound = error(404, "not_found", "no such schedule")

/** A failure of the schedules API as the contract answers it; never the store's text. */
const failure = (e: unknown): HttpResponse => {
  const tagged = e as { _tag?: string; failure?: string; reason?: string }
  if (tagged._tag === "ScheduleNotFound") return notFound
  if (tagged._tag === "StoreError" && tagged.failure === "unavailable") {
    return error(503, "store_unavailable", "the job store is unavailable")
  }
  console.error("jobtrack: schedules route failed", tagged._tag === "StoreError" ? tagged.reason : e)
  return error(500, "internal", "internal error")
}

/** Refused mutations: another site (Sec-Fetch-Site) or a body type a plain form can send. */
const crossSite = (ctx: Context): string | undefined => {
  const site = ctx.get("Sec-Fetch-Site")
  if (site !== "" && site !== "same-origin" && site !== "none") return "cross-site requests are refused"
  if (!ctx.request.is("application/json", "+json")) return "Content-Type must be application/json"
  return undefined
}

/**
 * @example
 * ```ts
 * import Koa from "koa"
 * import { schedulesRouter } from "@jobtrack/adapter-koa"
 *
 * const schedules = schedulesRouter(jobs, {
 *   prefix: "/admin/schedules",
 *   access: (ctx) => (ctx.state.admin ? { sees: "all", manage: true } : null)
 * })
 * new Koa().use(schedules.routes()).use(schedules.allowedMethods()).listen(3000)
 * ```
 * @since 0.2.0
 * @category constructors
 */
export const schedulesRouter = (
  jobs: { readonly schedules: Jobtrack.SchedulesApi },
  options: SchedulesRouterOptions
): Router => {
  const router = new Router(options.prefix ? { prefix: options.prefix } : {})
  const api = jobs.schedules

  const route = (
    f: (access: ScheduleAccess, ctx: Context) => Promise<HttpResponse>,
    mutation = false
  ) =>
  async (ctx: Context) => {
    ctx.set("Cache-Control", "no-store")
    const access = (await options.access(ctx)) ?? null
    const respond = (r: HttpResponse) => {
      ctx.status = r.status
      if (r.body !== undefined) ctx.body = r.body
    }
    if (access === null) return respond(notFound)
    if (mutation) {
      const refused = crossSite(ctx)
      if (refused) return respond(error(403, "forbidden", refused))
    }
    respond(await f(access, ctx).catch(failure))
  }

  /** The named schedule if this caller sees it; the same 404 as an unknown name otherwise. */
  const find = async (access: ScheduleAccess, name: string) => {
    const s = await api.get(name)
    if (!visible(access, s)) throw new ScheduleNotFound({ name })
    return s
  }
  const manage = (f: (name: string) => Promise<HttpResponse>) =>
    route(async (access, ctx) => {
      const name = ctx.params.name!
      await find(access, name)
      if (access.manage !== true) return error(403, "forbidden", "not allowed to change schedules")
      return f(name)
    }, true)

  router.get("/", route(async (access) => ({
    status: 200,
    body: { items: (await api.list()).filter((s) => visible(access, s)).map(toWire) }
  })))
  router.get("/:name", route(async (access, ctx) => ({ status: 200, body: toWire(await find(access, ctx.params.name!)) })))
  router.post("/:name/pause", manage(async (name) => ({ status: 200, body: toWire(await api.pause(name)) })))
  router.post("/:name/resume", manage(async (name) => ({ status: 200, body: toWire(await api.resume(name)) })))
  router.post("/:name/trigger", manage(async (name) => {
    const job = await api.trigger(name)
    return { status: 202, body: { message: "Job enqueued", job_id: job.id, type: job.type } }
  }))
  return router
}
