/**
 * The job: run the pipeline as a child process, turn its PROGRESS lines into
 * job progress, and return its RESULT. At most 2 extractions run per user.
 */
import { fileURLToPath } from "node:url"
import { Effect, Schema } from "effect"
import { Command, JobDefinition, RetryPolicy } from "@jobtrack/core"
import { logEvent } from "./log.ts"

// src/pipeline.ts when run from source, dist/pipeline.js when built
const pipeline = fileURLToPath(new URL(import.meta.url.endsWith(".ts") ? "./pipeline.ts" : "./pipeline.js", import.meta.url))

export const ExtractRequest = Schema.Struct({
  hours_back: Schema.Number.pipe(Schema.check(Schema.isBetween({ minimum: 1, maximum: 168 }))),
  max_results: Schema.Int.pipe(Schema.check(Schema.isBetween({ minimum: 1, maximum: 500 }))),
  senders: Schema.optionalKey(Schema.Array(Schema.String.pipe(Schema.check(Schema.isPattern(/^[^@\s]+@[^@\s]+$/)))))
})

const Newsletter = Schema.Struct({
  id: Schema.String,
  sender: Schema.String,
  subject: Schema.String,
  received_hours_ago: Schema.Number,
  links: Schema.Array(Schema.Struct({ text: Schema.String, url: Schema.String }))
})

export const extractNewsletters = JobDefinition.make({
  type: "newsletter-extract",
  payload: ExtractRequest,
  result: Schema.Struct({ newsletters: Schema.Array(Newsletter) }),
  // one automatic retry, so a flaky mailbox shows "retrying" before "failed"
  retry: RetryPolicy.exponential({ initial: "2 seconds", maxRetries: 1 }),
  timeout: "5 minutes",
  group: { key: (_, job) => job.owner, limit: 2 },
  handler: (request, ctx) =>
    Effect.gen(function*() {
      logEvent("job.started", { job_id: ctx.id, owner: ctx.owner, attempt: ctx.attempt })
      let result: unknown
      yield* Command.run(process.execPath, [pipeline, JSON.stringify(request)], {
        env: { ...process.env },
        killGraceMs: 2000,
        onStdout: (line) => {
          const progress = /^PROGRESS (\S+) (.*)$/.exec(line)
          if (progress) return ctx.progress(Number(progress[1]), progress[2])
          if (line.startsWith("RESULT ")) result = JSON.parse(line.slice(7))
          return Effect.void
        }
      }).pipe(
        Effect.tapError((e) =>
          Effect.sync(() => logEvent("job.attempt_failed", { job_id: ctx.id, attempt: ctx.attempt, error: e.message }, "warn"))
        )
      )
      return result as { newsletters: ReadonlyArray<typeof Newsletter.Type> }
    })
})
