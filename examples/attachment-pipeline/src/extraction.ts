/**
 * Text extraction for an attachment. The document-extraction service is a
 * stand-in (no network here): it "downloads" the file (an uploaded file is
 * read from disk), "recognises" its text, and fails transiently on a
 * configurable fraction of attempts. Retries: 30 s, 2 min, 8 min, at most 3.
 * Its stages (download, extract, store) are durable steps, shown in the job's
 * view.
 *
 * The result is bounded whatever the file's size: the first {@link excerptChars}
 * characters of its text (from its first {@link headBytes} bytes), whether that is all of
 * it, and the file's byte length and SHA-256. The file itself is never stored in the job
 * (as its result or as a step's output): it stays where it was uploaded.
 *
 * An upload lies on the disk of the server that received it: a runner that cannot
 * read it (another machine, or the file removed) fails the job with a fixed message,
 * never the file system's, which names the uploads path. Several machines need the
 * uploads in shared object storage (see the README).
 */
import { createReadStream } from "node:fs"
import { Data, Effect, Schema } from "effect"
import { JobDefinition, RetryPolicy } from "@jobtrack/core"
import { logEvent } from "./log.ts"
import * as StepOutputs from "./stepOutputs.ts"

export { excerptChars, headBytes } from "./stepOutputs.ts"

export const ExtractPayload = Schema.Struct({
  attachment_id: Schema.Int,
  record_id: Schema.String,
  file_url: Schema.String.pipe(Schema.check(Schema.isMinLength(1))),
  filename: Schema.String.pipe(Schema.check(Schema.isMinLength(1))),
  path: Schema.NullOr(Schema.String)
})

/** The seeds' schedule, scaled for demos and tests by RETRY_SCALE (0.01: 0.3 s, 1.2 s, 4.8 s). */
const scale = Number(process.env.RETRY_SCALE ?? 1)
const failRate = Number(process.env.FAIL_RATE ?? 0.2)
const stepMs = Number(process.env.EXTRACT_STEP_MS ?? 400)

export class ExtractionUnavailable extends Data.TaggedError("ExtractionUnavailable")<{ readonly message: string }> {}

/**
 * The uploaded file cannot be read here. Missing (ENOENT: removed, or on another machine's
 * disk), it is `fatal` and the job fails at once; any other read error is retried. The
 * message is fixed: the file system's names the server's uploads path.
 */
export class UploadUnreadable extends Data.TaggedError("UploadUnreadable")<{ readonly message: string; readonly fatal: boolean }> {
  static from(error: unknown) {
    const code = (error as { code?: unknown }).code
    const missing = code === "ENOENT" || code === "ENOTDIR"
    return new UploadUnreadable({
      message: missing ? "the uploaded file is not available to this server" : "the uploaded file could not be read",
      fatal: missing
    })
  }
}

/** An upload's head, length and hash, streamed from disk; the file system's own error is logged by its code only. */
const readUpload = (path: string, jobId: string) =>
  Effect.tryPromise({ try: () => StepOutputs.summarise(createReadStream(path)), catch: (e) => e }).pipe(
    Effect.tapError((e) => Effect.sync(() => logEvent("upload.unreadable", { job_id: jobId, code: (e as { code?: unknown }).code ?? "unknown" }, "warn"))),
    Effect.mapError(UploadUnreadable.from)
  )

export const extractText = JobDefinition.make({
  type: "extract-text",
  payload: ExtractPayload,
  result: StepOutputs.Result,
  retry: RetryPolicy.exponential({ initial: 30_000 * scale, factor: 4, maxRetries: 3 }),
  timeout: "2 minutes",
  // download, extract and store are durable steps: a retry after the service's 503 does not
  // download again, and continues with what the download kept (bounded: the file's head).
  // Each stored output is read back through StepOutputs, which also reads what the previous
  // version of this example stored (a job it left half done, retried after an upgrade)
  handler: (file, ctx) =>
    Effect.gen(function*() {
      const downloaded = yield* ctx.step("download", Effect.gen(function*() {
        yield* ctx.progress(5, `Downloading ${file.filename}`)
        const summary = file.path
          ? yield* readUpload(file.path, ctx.id)
          : yield* Effect.promise(() => StepOutputs.summarise([Buffer.from(`Synthetic content of ${file.filename} (${file.file_url}).`)]))
        yield* Effect.sleep(stepMs)
        return summary
      })).pipe(Effect.flatMap(StepOutputs.download))
      const excerpt = yield* ctx.step("extract", Effect.gen(function*() {
        yield* ctx.progress(30, "Sending to the extraction service")
        yield* Effect.sleep(stepMs)
        // transient failures: "flaky" files fail their first attempt, "broken" files always,
        // and any file fails with probability FAIL_RATE
        const transient = (/flaky/.test(file.filename) && ctx.attempt === 1) || /broken/.test(file.filename) ||
          (!/flaky|broken/.test(file.filename) && Math.random() < failRate)
        if (transient) return yield* new ExtractionUnavailable({ message: "extraction service unavailable (503)" })
        yield* ctx.progress(70, "Recognising text")
        yield* Effect.sleep(stepMs)
        return StepOutputs.excerptOf(downloaded.head, downloaded)
      })).pipe(Effect.flatMap((stored) => StepOutputs.extract(stored, downloaded)))
      return yield* ctx.step("store", Effect.gen(function*() {
        yield* ctx.progress(95, "Saving text")
        return StepOutputs.resultOf(excerpt, downloaded)
      })).pipe(Effect.flatMap((stored) => StepOutputs.result(stored, excerpt, downloaded)))
    })
})
