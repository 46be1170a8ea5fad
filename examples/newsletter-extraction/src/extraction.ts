/**
 * The job: run the pipeline's stages (connect, fetch, parse, extract links,
 * save) as durable steps. The slow ones (connect, fetch, extract links) are
 * child processes whose PROGRESS lines become job progress and whose RESULT is
 * the step's stored output; parse and save are quick transforms run here. A
 * retry, or another process after a crash, continues at the first unfinished
 * stage. At most 2 extractions run per user.
 */
import { fileURLToPath } from "node:url"
import { Effect, Schema } from "effect"
import { Command, JobDefinition, RetryPolicy } from "@jobtrack/core"
import type { JobContext } from "@jobtrack/core"
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
      // each stage is a durable step: a retry (or another process, after a crash)
      // continues at the first stage that did not finish, with the stored outputs
      const stage = <A>(name: string, input: object) => ctx.step(name, runStage<A>(name, input, ctx))
      yield* stage("connect", { request })
      const { messages } = yield* stage<{ messages: ReadonlyArray<Message> }>("fetch", { request })
      // parse and save are quick transforms: steps run here, without a process of their own
      const { links } = yield* ctx.step("parse", Effect.sync(() => parse(messages)))
      const { kept } = yield* stage<{ kept: ReadonlyArray<Kept> }>("extract-links", { request, links })
      return yield* ctx.step("save", Effect.sync(() => save(messages, kept)))
    }).pipe(
      Effect.tapError((e) =>
        Effect.sync(() => logEvent("job.attempt_failed", { job_id: ctx.id, attempt: ctx.attempt, error: e.message }, "warn"))
      )
    )
})

interface Message {
  readonly id: string
  readonly from: string
  readonly subject: string
  readonly hours_ago: number
  readonly links: ReadonlyArray<{ readonly text: string; readonly href: string }>
}
interface Kept {
  readonly message: string
  readonly text: string
  readonly url: string
}

/** The parse stage: every message's links. */
const parse = (messages: ReadonlyArray<Message>) => ({
  links: messages.flatMap((m) => m.links.map((l) => ({ message: m.id, text: l.text, href: l.href })))
})

/** The save stage: the newsletters, each with its kept links. */
const save = (messages: ReadonlyArray<Message>, kept: ReadonlyArray<Kept>) => ({
  newsletters: messages.map((m) => ({
    id: m.id,
    sender: m.from,
    subject: m.subject,
    received_hours_ago: Math.round(m.hours_ago * 10) / 10,
    links: kept.filter((l) => l.message === m.id).map((l) => ({ text: l.text, url: l.url }))
  }))
})

/** One stage of the pipeline as a child process: its PROGRESS lines become job progress; its RESULT is the output. */
const runStage = <A>(name: string, input: object, ctx: JobContext) =>
  Effect.suspend(() => {
    let result: unknown
    return Command.run(process.execPath, [pipeline, "--stage", name], {
      env: { ...process.env },
      stdin: JSON.stringify(input),
      killGraceMs: 2000,
      onStdout: (line) => {
        const progress = /^PROGRESS (\S+) (.*)$/.exec(line)
        if (progress) return ctx.progress(Number(progress[1]), progress[2])
        if (line.startsWith("RESULT ")) result = JSON.parse(line.slice(7))
        return Effect.void
      }
    }).pipe(Effect.map(() => result as A))
  })
