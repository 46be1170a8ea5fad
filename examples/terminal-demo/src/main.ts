/**
 * jobtrack in a terminal: six jobs on the in-memory store, drawn live until
 * every one of them is terminal. One fails and is retried, one is cancelled
 * while it runs, two share a concurrency group of limit 1.
 */
import { Effect, Schema } from "effect"
import { JobDefinition, Jobtrack, MemoryStore, QueuePosition, RetryPolicy } from "@jobtrack/core"
import type { JobView } from "@jobtrack/core"

const Steps = Schema.Struct({ name: Schema.String, steps: Schema.Int, failTimes: Schema.optionalKey(Schema.Int) })

/** Works through `steps` steps, reporting each; fails its first `failTimes` attempts halfway. */
const pipeline = JobDefinition.make({
  type: "pipeline",
  payload: Steps,
  result: Schema.Struct({ items: Schema.Int }),
  retry: RetryPolicy.exponential({ initial: "1 second", factor: 2, maxRetries: 3 }),
  handler: ({ failTimes = 0, name, steps }, ctx) =>
    Effect.gen(function*() {
      for (let i = 1; i <= steps; i++) {
        yield* Effect.sleep("120 millis")
        if (ctx.attempt <= failTimes && i === Math.ceil(steps / 2)) {
          return yield* Effect.fail(new Error(`${name}: mailbox timed out (attempt ${ctx.attempt})`))
        }
        yield* ctx.progress((i / steps) * 100, `${name}: step ${i} of ${steps}`)
      }
      return { items: steps * 3 }
    })
})

/** The same work, but at most one per owner runs at a time. */
const perOwner = JobDefinition.make({
  type: "per-owner",
  payload: Steps,
  group: { key: (_, job) => job.owner, limit: 1 },
  handler: ({ name, steps }, ctx) =>
    Effect.gen(function*() {
      for (let i = 1; i <= steps; i++) {
        yield* Effect.sleep("120 millis")
        yield* ctx.progress((i / steps) * 100, `${name}: step ${i} of ${steps}`)
      }
    })
})

const jobs = Jobtrack.make({
  store: MemoryStore.layer,
  definitions: [pipeline, perOwner],
  runner: { concurrency: 3, pollInterval: "100 millis", progressInterval: "50 millis" },
  watchPollInterval: "200 millis"
})

const views = new Map<string, JobView>()
const tty = process.stdout.isTTY === true
const colour = (status: string) =>
  !tty ? status : ({
    pending: "\x1b[90m", processing: "\x1b[36m", retrying: "\x1b[33m",
    completed: "\x1b[32m", failed: "\x1b[31m", cancelled: "\x1b[35m"
  }[status] ?? "") + status.padEnd(10) + "\x1b[0m"
const bar = (p: number) => "█".repeat(Math.round(p / 5)).padEnd(20, "░")
const line = (v: JobView) => {
  const where = v.status === "pending" ? (v.queuePositionCapped ? `queue: ${QueuePosition.text(v)}` : `queue #${v.queuePosition}`) : v.status === "retrying" && v.nextRetryAt
    ? `retry in ${Math.max(0, (v.nextRetryAt.getTime() - Date.now()) / 1000).toFixed(1)}s`
    : `attempt ${v.attempts}/${v.maxAttempts}`
  const detail = v.status === "failed" || v.status === "retrying" ? v.errorMessage : v.progressMessage
  return `${(v.payload as { name: string }).name.padEnd(16)} ${colour(v.status)} ${bar(v.progress)} ${String(Math.round(v.progress)).padStart(3)}%  ${where.padEnd(14)} ${detail ?? ""}`
}
/**
 * Cut a line to `width` visible characters (escape sequences take no room), so no row
 * wraps: the redraw moves up one terminal row per job and must find the rows it drew.
 */
const fit = (text: string, width: number) => {
  let out = ""
  let visible = 0
  for (let i = 0; i < text.length; i++) {
    const escape = /^\x1b\[[0-9;]*m/.exec(text.slice(i))
    if (escape) {
      out += escape[0]
      i += escape[0].length - 1
    } else if (visible < width) {
      out += text[i] === "\n" || text[i] === "\r" ? " " : text[i]
      visible++
    } else {
      return `${out.slice(0, -1)}…\x1b[0m`
    }
  }
  return out
}
let drawn = 0
const draw = (final = false) => {
  const lines = [...views.values()].map(line)
  if (tty) {
    const width = Math.max(20, (process.stdout.columns || 80) - 1)
    // up to the first row drawn, clear everything below (rows a narrowed window rewrapped too), redraw
    process.stdout.write((drawn ? `\x1b[${drawn}A\r\x1b[J` : "") + lines.map((l) => `${fit(l, width)}\n`).join(""))
    drawn = lines.length
  } else if (final) {
    console.log(lines.join("\n"))
  }
}

const follow = async (id: string) => {
  for await (const view of jobs.watch(id)) {
    const before = views.get(id)
    views.set(id, view)
    if (!tty && before?.status !== view.status) console.log(line(view))
  }
}

console.log("jobtrack demo: 6 jobs on the in-memory store (runner concurrency 3)\n")
const enqueued = [
  await jobs.enqueue(pipeline, { name: "import-contacts", steps: 10 }, { priority: 5 }),
  await jobs.enqueue(pipeline, { name: "flaky-mailbox", steps: 8, failTimes: 2 }),
  await jobs.enqueue(pipeline, { name: "to-be-cancelled", steps: 40 }),
  await jobs.enqueue(perOwner, { name: "ann: report A", steps: 8 }, { owner: "ann" }),
  await jobs.enqueue(perOwner, { name: "ann: report B", steps: 8 }, { owner: "ann" }),
  await jobs.enqueue(pipeline, { name: "resize-images", steps: 6 })
].map((e) => e.job)
for (const job of enqueued) views.set(job.id, await jobs.get(job.id))
const timer = tty ? setInterval(() => draw(), 100) : undefined
await jobs.start()
const followers = enqueued.map((job) => follow(job.id))
setTimeout(() => void jobs.cancel(enqueued[2]!.id), 1500)
await Promise.all(followers)
if (timer) clearInterval(timer)
draw(true)
const stats = await jobs.stats()
console.log(`\nall terminal: ${JSON.stringify(stats.counts)}`)
await jobs.close()
