/**
 * The attachment app: saving an attachment enqueues its text extraction in
 * the same transaction, keyed by the file URL (a key is unique within its
 * owner, so two users attaching the same URL get a job each); jobs are monitored
 * through the jobs router; admins backfill and bulk-import.
 *
 * Every route is scoped to the caller: records and their ids are per user,
 * extractions are looked up among the caller's own jobs, the backfill enqueues each attachment's job for the attachment's owner, and
 * the admin routes need an admin. Where an upload lies on disk never leaves
 * the server.
 */
import Router from "@koa/router"
import { Effect, Schema, SchemaIssue } from "effect"
import Koa from "koa"
import type { Context } from "koa"
import { jobsRouter, metricsRouter, WireView } from "@jobtrack/adapter-koa"
import { Jobtrack } from "@jobtrack/core"
import type { JobView, StoreLayer } from "@jobtrack/core"
import { sql } from "kysely"
import type { Kysely, Transaction } from "kysely"
import { requireAdmin, requireUser, user } from "./auth.ts"
import { jsonBody } from "./body.ts"
import type { Database } from "./db.ts"
import { extractText } from "./extraction.ts"
import { answerErrors, HttpError } from "./http.ts"
import { logEvent } from "./log.ts"
import { RecordId, text } from "./text.ts"
import { uploads as makeUploads } from "./uploads.ts"

const AttachRequest = Schema.Struct({ file_url: text(2048), filename: text(255) })
const ImportRequest = Schema.Struct({
  count: Schema.Int.pipe(Schema.check(Schema.isBetween({ minimum: 1, maximum: 100_000 }))),
  batch_size: Schema.optionalKey(Schema.Int.pipe(Schema.check(Schema.isBetween({ minimum: 1, maximum: 5_000 }))))
})
const issuesOf = SchemaIssue.makeFormatterStandardSchemaV1()

export { logEvent }

const decode = <A>(schema: Schema.Codec<A, unknown>, input: unknown): A => {
  try {
    return Schema.decodeUnknownSync(schema)(input, { errors: "all" })
  } catch (e) {
    const issue = (e as { issue?: SchemaIssue.Issue }).issue
    throw new HttpError(400, "invalid_input", "invalid request", issue ? { issues: issuesOf(issue).issues } : undefined)
  }
}

const recordId = (ctx: Context) => decode(RecordId, ctx.params.recordId)

/** A page of a record's attachments: `limit` 1 to 100 (default 50), after the attachment id `after`. */
const pageOf = (ctx: Context): { after: number | undefined; limit: number } => {
  const { after, limit } = ctx.query
  const int = (v: unknown, max: number) => typeof v === "string" && /^\d{1,10}$/.test(v) && Number(v) <= max ? Number(v) : undefined
  const page = { after: after === undefined ? undefined : int(after, 2 ** 31 - 1), limit: limit === undefined ? 50 : int(limit, 100) }
  if ((after !== undefined && page.after === undefined) || page.limit === undefined || page.limit < 1) {
    throw new HttpError(400, "invalid_input", "limit is 1 to 100, after an attachment id")
  }
  return { after: page.after, limit: page.limit }
}

export interface AppOptions {
  readonly db: Kysely<Database>
  readonly store: StoreLayer<Transaction<Database>>
  /** Where uploads are stored. */
  readonly uploads: string
  /** The largest accepted upload (default 10 MiB); larger ones are answered 413. */
  readonly maxUploadBytes?: number
  readonly leaseSeconds?: number
}

export const makeApp = ({ db, leaseSeconds, maxUploadBytes, store, uploads }: AppOptions) => {
  const log = (event: string) => (job: JobView) =>
    Effect.sync(() => logEvent(event, { job_id: job.id, key: job.key, attempts: job.attempts, error: job.errorMessage ?? undefined }))
  const jobs = Jobtrack.make({
    store,
    definitions: [extractText],
    runner: { concurrency: Number(process.env.RUNNER_CONCURRENCY ?? 8), lease: `${leaseSeconds ?? 30} seconds`, pollInterval: "500 millis", shutdownGrace: "2 seconds" },
    hooks: { onCompleted: log("job.completed"), onFailed: log("job.failed"), onCancelled: log("job.cancelled") },
    // metrics for /metrics; OTLP export when OTEL_EXPORTER_OTLP_ENDPOINT is set (the app logs its own lines)
    telemetry: {
      lifecycleLogs: false,
      ...(process.env.OTEL_EXPORTER_OTLP_ENDPOINT
        ? { otlp: { url: process.env.OTEL_EXPORTER_OTLP_ENDPOINT, serviceName: "attachment-pipeline" } }
        : {})
    }
  })
  const readJson = jsonBody(64 * 1024)
  /** The newest extraction of `owner`'s file, or null (never another owner's job). */
  const extractionOf = (owner: string, fileUrl: string) =>
    jobs.list({ owner, type: extractText.type, key: fileUrl, limit: 1 })
      // read in full: the view with its steps (download, extract, store)
      .then((page) => (page.items[0] ? jobs.get(page.items[0].id) : null))
  const receiveUpload = makeUploads({ dir: uploads, maxBytes: maxUploadBytes ?? 10 * 1024 * 1024 })

  /** Save an attachment and enqueue its extraction in one transaction. */
  const attach = (owner: string, recordId: string, file: { file_url: string; filename: string; path: string | null }) =>
    db.transaction().execute(async (trx: Transaction<Database>) => {
      await trx.insertInto("records").values({ owner, id: recordId, name: recordId })
        .onConflict((oc) => oc.columns(["owner", "id"]).doNothing()).execute()
      const { id } = await trx.insertInto("attachments").values({ owner, record_id: recordId, ...file }).returning("id").executeTakeFirstOrThrow()
      const { created, job } = await jobs.enqueue(
        extractText,
        { attachment_id: id, record_id: recordId, ...file },
        { owner, key: file.file_url, transaction: trx }
      )
      logEvent("job.enqueued", { job_id: job.id, key: job.key, created, attachment_id: id })
      return job.id
    })

  const router = new Router()
  router.use(answerErrors, requireUser)

  router.post("/api/records/:recordId/attachments", async (ctx) => {
    const owner: string = ctx.state.user
    const record = recordId(ctx)
    let file: { file_url: string; filename: string; path: string | null }
    if (ctx.is("multipart/form-data")) {
      file = await receiveUpload(ctx)
    } else if (ctx.is("application/json")) {
      file = { ...decode(AttachRequest, await readJson(ctx)), path: null }
    } else {
      throw new HttpError(400, "invalid_input", "send JSON { file_url, filename } or a multipart upload")
    }
    const id = await attach(owner, record, file)
    ctx.status = 202
    ctx.body = WireView.fromView(await jobs.get(id))
  })

  // A record's attachments a page at a time (a bulk import makes records of thousands), each
  // with its extraction, whose result is bounded (extraction.ts): the answer is bounded too
  router.get("/api/records/:recordId", async (ctx) => {
    const owner: string = ctx.state.user
    const { after, limit } = pageOf(ctx)
    const record = await db.selectFrom("records").select(["id", "name", "created_at"])
      .where("owner", "=", owner).where("id", "=", recordId(ctx)).executeTakeFirst()
    if (!record) throw new HttpError(404, "not_found", "no such record")
    const rows = await db.selectFrom("attachments").select(["id", "record_id", "file_url", "filename", "created_at"])
      .where("owner", "=", owner).where("record_id", "=", record.id)
      .$if(after !== undefined, (q) => q.where("id", ">", after!))
      .orderBy("id").limit(limit + 1).execute()
    const attachments = rows.slice(0, limit)
    ctx.body = {
      ...record,
      attachments: await Promise.all(attachments.map(async (a) => ({
        ...a,
        extraction: await extractionOf(owner, a.file_url).then((job) => job && WireView.fromView(job))
      }))),
      // the next page: ?after=<next_after>
      next_after: rows.length > limit ? attachments.at(-1)!.id : null
    }
  })

  router.post("/api/admin/backfill", requireAdmin, async (ctx) => {
    // attachments saved before jobtrack, or whose job was deleted: their owner has no job
    // with their key; each is enqueued for the attachment's owner, never for the admin who asked
    const missing = await db.selectFrom("attachments as a")
      .selectAll("a")
      .where(({ not, exists, selectFrom }) =>
        not(exists(
          selectFrom(sql.table("jobtrack.jobs").as("j"))
            .select(sql.lit(1).as("one"))
            .where(sql.ref("j.type"), "=", "extract-text")
            .whereRef(sql.ref("j.key"), "=", "a.file_url")
            .whereRef(sql.ref("j.owner"), "=", "a.owner")
        )))
      .orderBy("a.id")
      .execute()
    let enqueued = 0
    for (let i = 0; i < missing.length; i += 500) {
      const batch = missing.slice(i, i + 500)
      const out = await jobs.enqueueMany(extractText, batch.map((a) => ({
        payload: { attachment_id: a.id, record_id: a.record_id, file_url: a.file_url, filename: a.filename, path: a.path },
        options: { owner: a.owner, key: a.file_url }
      })))
      enqueued += out.filter((o) => o.created).length
    }
    logEvent("admin.backfill", { enqueued })
    ctx.body = { enqueued }
  })

  router.post("/api/admin/import", requireAdmin, async (ctx) => {
    const owner: string = ctx.state.user
    const { batch_size = 1000, count } = decode(ImportRequest, await readJson(ctx))
    const started = Date.now()
    const recordId = `import-${Date.now()}`
    let enqueued = 0
    let batches = 0
    await db.insertInto("records").values({ owner, id: recordId, name: `Bulk import of ${count} files` }).execute()
    for (let i = 0; i < count; i += batch_size) {
      const n = Math.min(batch_size, count - i)
      await db.transaction().execute(async (trx: Transaction<Database>) => {
        const rows = await trx.insertInto("attachments")
          .values(Array.from({ length: n }, (_, k) => ({
            owner,
            record_id: recordId,
            file_url: `s3://imports/${recordId}/file-${i + k}.pdf`,
            filename: `file-${i + k}.pdf`,
            path: null
          })))
          .returning(["id", "file_url", "filename"])
          .execute()
        const out = await jobs.enqueueMany(extractText, rows.map((r, k) => ({
          payload: { attachment_id: r.id, record_id: recordId, file_url: r.file_url, filename: r.filename, path: null },
          options: { owner, key: r.file_url, ...(k === 0 ? { transaction: trx } : {}) }
        })))
        enqueued += out.length
      })
      batches++
    }
    logEvent("admin.import", { enqueued, batches, ms: Date.now() - started })
    ctx.status = 202
    ctx.body = { record_id: recordId, enqueued, batches, ms: Date.now() - started }
  })

  const monitoring = jobsRouter(jobs, { prefix: "/api/jobs", owner: user })
  // Prometheus text for a scraper holding METRICS_TOKEN (unset: nobody; others get 404)
  const metrics = metricsRouter({
    tracker: jobs,
    authorize: (ctx) => {
      const token = process.env.METRICS_TOKEN
      return token !== undefined && token !== "" && ctx.get("authorization") === `Bearer ${token}`
    }
  })
  const app = new Koa()
    .use(metrics.routes())
    .use(monitoring.routes())
    .use(monitoring.allowedMethods())
    .use(router.routes())
    .use(router.allowedMethods())
  return { app, jobs }
}
