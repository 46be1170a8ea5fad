/**
 * The attachment app: saving an attachment enqueues its text extraction in
 * the same transaction, keyed by the file URL; jobs are monitored through the
 * jobs router; admins backfill and bulk-import.
 */
import { randomUUID } from "node:crypto"
import { mkdir, writeFile } from "node:fs/promises"
import { join } from "node:path"
import { Readable } from "node:stream"
import Router from "@koa/router"
import { Effect, Schema, SchemaIssue } from "effect"
import Koa from "koa"
import type { Context } from "koa"
import { jobsRouter, WireView } from "@jobtrack/adapter-koa"
import { Jobtrack } from "@jobtrack/core"
import type { JobView, StoreLayer } from "@jobtrack/core"
import { sql } from "kysely"
import type { Kysely, Transaction } from "kysely"
import type { Database } from "./db.ts"
import { extractText } from "./extraction.ts"

const AttachRequest = Schema.Struct({
  file_url: Schema.String.pipe(Schema.check(Schema.isMinLength(1), Schema.isMaxLength(2048))),
  filename: Schema.String.pipe(Schema.check(Schema.isMinLength(1), Schema.isMaxLength(255)))
})
const ImportRequest = Schema.Struct({
  count: Schema.Int.pipe(Schema.check(Schema.isBetween({ minimum: 1, maximum: 100_000 }))),
  batch_size: Schema.optionalKey(Schema.Int.pipe(Schema.check(Schema.isBetween({ minimum: 1, maximum: 5_000 }))))
})
const issuesOf = SchemaIssue.makeFormatterStandardSchemaV1()

export const logEvent = (event: string, fields: Record<string, unknown> = {}, level = "info") =>
  process.stdout.write(`${JSON.stringify({ ts: new Date().toISOString(), level, event, ...fields })}\n`)

/** Demo auth (a stand-in for the host's real auth): the bearer token is the user name. */
const user = (ctx: Context) => {
  const h = ctx.get("authorization")
  const name = h.startsWith("Bearer ") ? h.slice(7).trim() : ""
  return /^[\w.@-]{1,64}$/.test(name) ? name : undefined
}

class HttpError extends Error {
  readonly status: number
  readonly code: string
  readonly details: unknown
  constructor(status: number, code: string, message: string, details?: unknown) {
    super(message)
    this.status = status
    this.code = code
    this.details = details
  }
}

const decode = <A>(schema: Schema.Codec<A, unknown>, input: unknown): A => {
  try {
    return Schema.decodeUnknownSync(schema)(input, { errors: "all" })
  } catch (e) {
    const issue = (e as { issue?: SchemaIssue.Issue }).issue
    throw new HttpError(400, "invalid_input", "invalid request", issue ? { issues: issuesOf(issue).issues } : undefined)
  }
}

const readJson = async (ctx: Context): Promise<unknown> => {
  let text = ""
  for await (const chunk of ctx.req) {
    text += chunk
    if (text.length > 64 * 1024) throw new HttpError(413, "payload_too_large", "body too large")
  }
  try {
    return JSON.parse(text)
  } catch {
    throw new HttpError(400, "invalid_input", "body is not valid JSON")
  }
}

export interface AppOptions {
  readonly db: Kysely<Database>
  readonly store: StoreLayer<Transaction<Database>>
  readonly uploads: string
  readonly leaseSeconds?: number
}

export const makeApp = ({ db, leaseSeconds, store, uploads }: AppOptions) => {
  const log = (event: string) => (job: JobView) =>
    Effect.sync(() => logEvent(event, { job_id: job.id, key: job.key, attempts: job.attempts, error: job.errorMessage ?? undefined }))
  const jobs = Jobtrack.make({
    store,
    definitions: [extractText],
    runner: { concurrency: Number(process.env.RUNNER_CONCURRENCY ?? 8), lease: `${leaseSeconds ?? 30} seconds`, pollInterval: "500 millis", shutdownGrace: "2 seconds" },
    hooks: { onCompleted: log("job.completed"), onFailed: log("job.failed"), onCancelled: log("job.cancelled") }
  })

  /** Save an attachment and enqueue its extraction in one transaction. */
  const attach = (owner: string, recordId: string, file: { file_url: string; filename: string; path: string | null }) =>
    db.transaction().execute(async (trx: Transaction<Database>) => {
      await trx.insertInto("records").values({ id: recordId, name: recordId }).onConflict((oc) => oc.column("id").doNothing()).execute()
      const { id } = await trx.insertInto("attachments").values({ record_id: recordId, ...file }).returning("id").executeTakeFirstOrThrow()
      const { created, job } = await jobs.enqueue(
        extractText,
        { attachment_id: id, record_id: recordId, ...file },
        { owner, key: file.file_url, transaction: trx }
      )
      logEvent("job.enqueued", { job_id: job.id, key: job.key, created, attachment_id: id })
      return job.id
    })

  const router = new Router()
  router.use(async (ctx, next) => {
    try {
      if (!user(ctx)) throw new HttpError(401, "unauthorized", "send Authorization: Bearer <user-name>")
      await next()
    } catch (e) {
      if (!(e instanceof HttpError)) throw e
      ctx.status = e.status
      ctx.body = { error: { code: e.code, message: e.message, ...(e.details ? { details: e.details } : {}) } }
    }
  })

  router.post("/api/records/:recordId/attachments", async (ctx) => {
    const owner = user(ctx)!
    const recordId = ctx.params.recordId!
    let file: { file_url: string; filename: string; path: string | null }
    if (ctx.is("multipart/form-data")) {
      const form = await new Request("http://upload", {
        method: "POST",
        headers: { "content-type": ctx.get("content-type") },
        body: Readable.toWeb(ctx.req) as ReadableStream,
        duplex: "half"
      } as RequestInit).formData()
      const upload = form.get("file")
      if (!(upload instanceof File)) throw new HttpError(400, "invalid_input", "a multipart upload needs a `file` field")
      const name = upload.name.replace(/[^\w.-]/g, "_") || "upload"
      const path = join(uploads, `${randomUUID()}-${name}`)
      await mkdir(uploads, { recursive: true })
      await writeFile(path, Buffer.from(await upload.arrayBuffer()))
      file = { file_url: `file://${path}`, filename: name, path }
    } else if (ctx.is("application/json")) {
      file = { ...decode(AttachRequest, await readJson(ctx)), path: null }
    } else {
      throw new HttpError(400, "invalid_input", "send JSON { file_url, filename } or a multipart upload")
    }
    const id = await attach(owner, recordId, file)
    ctx.status = 202
    ctx.body = WireView.fromView(await jobs.get(id))
  })

  router.get("/api/records/:recordId", async (ctx) => {
    const record = await db.selectFrom("records").selectAll().where("id", "=", ctx.params.recordId!).executeTakeFirst()
    if (!record) throw new HttpError(404, "not_found", "no such record")
    const attachments = await db.selectFrom("attachments").selectAll().where("record_id", "=", record.id).orderBy("id").execute()
    ctx.body = {
      ...record,
      attachments: await Promise.all(attachments.map(async (a) => ({
        ...a,
        extraction: await jobs.findByKey("extract-text", a.file_url).then(WireView.fromView, () => null)
      })))
    }
  })

  router.post("/api/admin/backfill", async (ctx) => {
    const owner = user(ctx)!
    // attachments saved before jobtrack, or whose job was deleted: no job has their URL as key
    const missing = await db.selectFrom("attachments as a")
      .selectAll("a")
      .where(({ not, exists, selectFrom }) =>
        not(exists(
          selectFrom(sql.table("jobtrack.jobs").as("j"))
            .select(sql.lit(1).as("one"))
            .where(sql.ref("j.type"), "=", "extract-text")
            .whereRef(sql.ref("j.key"), "=", "a.file_url")
        )))
      .execute()
    let enqueued = 0
    for (let i = 0; i < missing.length; i += 500) {
      const batch = missing.slice(i, i + 500)
      const out = await jobs.enqueueMany(extractText, batch.map((a) => ({
        payload: { attachment_id: a.id, record_id: a.record_id, file_url: a.file_url, filename: a.filename, path: a.path },
        options: { owner, key: a.file_url }
      })))
      enqueued += out.filter((o) => o.created).length
    }
    logEvent("admin.backfill", { enqueued })
    ctx.body = { enqueued }
  })

  router.post("/api/admin/import", async (ctx) => {
    const owner = user(ctx)!
    const { batch_size = 1000, count } = decode(ImportRequest, await readJson(ctx))
    const started = Date.now()
    const recordId = `import-${Date.now()}`
    let enqueued = 0
    let batches = 0
    await db.insertInto("records").values({ id: recordId, name: `Bulk import of ${count} files` }).execute()
    for (let i = 0; i < count; i += batch_size) {
      const n = Math.min(batch_size, count - i)
      await db.transaction().execute(async (trx: Transaction<Database>) => {
        const rows = await trx.insertInto("attachments")
          .values(Array.from({ length: n }, (_, k) => ({
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
  const app = new Koa()
    .use(monitoring.routes())
    .use(monitoring.allowedMethods())
    .use(router.routes())
    .use(router.allowedMethods())
  return { app, jobs }
}
