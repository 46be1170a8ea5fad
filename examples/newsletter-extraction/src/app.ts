/**
 * The newsletter app: the extract endpoint answers at once with an
 * extraction id, the status endpoint keeps the original response shape, the
 * jobs router (status, events, cancel, retry, list) is mounted at /api/jobs,
 * a small page at / follows extractions live, and the operator console is
 * at /admin/jobs/ for the demo's admins (see `consoleAccess`).
 */
import { readFile } from "node:fs/promises"
import Router from "@koa/router"
import Koa from "koa"
import type { Context, Next } from "koa"
import { jobsConsole, jobsRouter, metricsRouter } from "@jobtrack/adapter-koa"
import type { WireView } from "@jobtrack/adapter-koa"
import { JobId, JobSchedule, Jobtrack } from "@jobtrack/core"
import type { JobStore, JobView, StoreError } from "@jobtrack/core"
import { Effect } from "effect"
import type { Layer } from "effect"
import { consoleAccess, requireUser, user } from "./auth.ts"
import { BodyError, jsonBody } from "./body.ts"
import { extractNewsletters } from "./extraction.ts"
import { logEvent } from "./log.ts"

export interface AppOptions {
  readonly store: Layer.Layer<JobStore, StoreError>
  /** How long a claim lives without heartbeats (recovery time after a crash). */
  readonly leaseSeconds?: number
  /** Re-fetch this user's newsletters of the last hour at 5 past every hour (a cron schedule; off when unset). */
  readonly refetchOwner?: string | undefined
}

/** The original status shape, plus queue_position (and whether it is capped); newsletters only once completed. */
const status = (job: JobView) => ({
  extraction_id: job.id,
  status: job.status,
  progress: job.progress,
  progress_message: job.progressMessage,
  error_message: job.errorMessage,
  created_at: job.createdAt.toISOString(),
  completed_at: job.completedAt?.toISOString() ?? null,
  queue_position: job.queuePosition,
  // true: the store stopped counting; the job has more than queue_position - 1 jobs ahead
  queue_position_capped: job.queuePositionCapped,
  // the pipeline's stages, as durable steps
  steps: (job.steps ?? []).map((s) => ({ name: s.name, status: s.status, attempts: s.attempts })),
  ...(job.status === "completed" ? { newsletters: (job.result as { newsletters: unknown }).newsletters } : {})
})

const readJson = jsonBody(64 * 1024)

/**
 * The headers the library's console sends, on every answer: the page's script and styles
 * are files of its own (no inline code: a subject or sender shown on it can never run),
 * it is never framed, and nothing is sniffed into another type.
 */
const securityHeaders = async (ctx: Context, next: Next) => {
  ctx.set("X-Content-Type-Options", "nosniff")
  ctx.set("Referrer-Policy", "same-origin")
  ctx.set("X-Frame-Options", "DENY")
  ctx.set(
    "Content-Security-Policy",
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
      "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'"
  )
  await next()
}

export const makeApp = (options: AppOptions) => {
  const jobs = Jobtrack.make({
    store: options.store,
    definitions: [extractNewsletters],
    schedules: options.refetchOwner
      ? [JobSchedule.make({
        name: "newsletter-refetch-hourly",
        cron: "5 * * * *",
        definition: extractNewsletters,
        payload: { hours_back: 1, max_results: 100 },
        owner: options.refetchOwner
      })]
      : [],
    runner: {
      concurrency: 6,
      lease: `${options.leaseSeconds ?? 30} seconds`,
      pollInterval: "1 second",
      shutdownGrace: "2 seconds"
    },
    // metrics for /metrics; spans and metrics also go to an OpenTelemetry collector when
    // OTEL_EXPORTER_OTLP_ENDPOINT is set (e.g. http://127.0.0.1:4318). The app logs its own
    // JSON lines, so jobtrack's lifecycle lines stay at Debug.
    telemetry: {
      lifecycleLogs: false,
      ...(process.env.OTEL_EXPORTER_OTLP_ENDPOINT
        ? { otlp: { url: process.env.OTEL_EXPORTER_OTLP_ENDPOINT, serviceName: "newsletter-extraction" } }
        : {})
    },
    hooks: {
      onCompleted: (job) => logJob("job.completed", job),
      onFailed: (job) => logJob("job.failed", job),
      onCancelled: (job) => logJob("job.cancelled", job)
    }
  })

  const api = new Router({ prefix: "/api/newsletters" })
  api.use(requireUser)
  api.post("/extract", async (ctx) => {
    let body: unknown
    try {
      body = await readJson(ctx)
    } catch (e) {
      if (!(e instanceof BodyError)) throw e
      ctx.status = e.status
      ctx.body = { error: { code: e.code, message: e.message } }
      return
    }
    try {
      const { job } = await jobs.enqueue(extractNewsletters, body as never, { owner: ctx.state.user })
      logEvent("job.enqueued", { job_id: job.id, owner: job.owner, payload: job.payload })
      ctx.status = 202
      ctx.body = { status: "pending", extraction_id: job.id, message: "Extraction started" }
    } catch (e) {
      const err = e as { _tag?: string; message: string; issues?: unknown }
      if (err._tag !== "InvalidInput") throw e
      ctx.status = 400
      ctx.body = { error: { code: "invalid_input", message: err.message, details: { issues: err.issues } } }
    }
  })
  api.get("/extractions/:id/status", async (ctx) => {
    const id = ctx.params.id!
    const job = JobId.isValid(id) ? await jobs.get(id).catch(() => undefined) : undefined
    // another user's extraction answers like an unknown one: its existence is not revealed
    if (!job || job.owner !== ctx.state.user) {
      ctx.status = 404
      ctx.body = { error: { code: "not_found", message: "Extraction not found" } }
    } else {
      ctx.body = status(job)
    }
  })

  const jobsApi = jobsRouter(jobs, {
    prefix: "/api/jobs",
    owner: user,
    expose: [extractNewsletters],
    // the page and the status route speak of extraction_id, as the original app did
    present: ({ id, ...view }: WireView.WireView) => ({ extraction_id: id, ...view })
  })

  const page = new Router()
  const assets = [
    ["/", "index.html", "text/html"],
    ["/app.js", "app.js", "text/javascript"],
    ["/style.css", "style.css", "text/css"],
    ["/favicon.svg", "favicon.svg", "image/svg+xml"],
    ["/favicon.ico", "favicon.svg", "image/svg+xml"] // browsers ask for it whatever the page says
  ] as const
  for (const [path, file, type] of assets) {
    page.get(path, async (ctx) => {
      ctx.type = type
      ctx.set("cache-control", "no-cache")
      ctx.body = await readFile(new URL(`../public/${file}`, import.meta.url))
    })
  }

  // the operator console: every user's jobs, for the demo's admins only
  const admin = jobsConsole(jobs, { prefix: "/admin/jobs", access: consoleAccess })

  // Prometheus text for a scraper holding METRICS_TOKEN (unset: nobody; others get 404)
  const metrics = metricsRouter({
    tracker: jobs,
    authorize: (ctx) => {
      const token = process.env.METRICS_TOKEN
      return token !== undefined && token !== "" && ctx.get("authorization") === `Bearer ${token}`
    }
  })

  const app = new Koa()
    .use(securityHeaders)
    .use(metrics.routes())
    .use(admin.routes())
    .use(page.routes())
    .use(api.routes())
    .use(api.allowedMethods())
    .use(jobsApi.routes())
    .use(jobsApi.allowedMethods())
  /**
   * The first request after a start pays for compiling its code paths and preparing its
   * statements; pay that before listening. An extraction is enqueued for an owner no
   * request can name, a year ahead (so it never runs), read, listed and deleted.
   */
  const warm = async () => {
    const owner = " warm-up"
    const { job } = await jobs.enqueue(extractNewsletters, { hours_back: 1, max_results: 1 }, { owner, delay: "365 days" })
    await jobs.get(job.id)
    await jobs.list({ owner, type: extractNewsletters.type, limit: 20 })
    await jobs.delete(job.id)
  }
  /** Stop the console's runner, then the jobs (running extractions are handed back). */
  const close = async () => {
    await admin.close()
    await jobs.close()
  }
  return { app, jobs, warm, close }
}

const logJob = (event: string, job: JobView) =>
  Effect.sync(() =>
    logEvent(event, {
      job_id: job.id,
      owner: job.owner,
      attempts: job.attempts,
      ...(job.errorMessage && job.status === "failed" ? { error: job.errorMessage } : {}),
      duration_ms: job.completedAt && job.startedAt ? job.completedAt.getTime() - job.startedAt.getTime() : null
    }, job.status === "failed" ? "error" : "info"))

