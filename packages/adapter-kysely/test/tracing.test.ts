/**
 * A job's trace across OS processes on one PostgreSQL: this process enqueues
 * inside a request span (an in-memory tracer); a runner in a child process
 * (its own in-memory tracer, printing ended spans) runs it. Each attempt's
 * span has the enqueue span as parent — same trace id — and the handler's own
 * span nests under its attempt; progress and the retry are span events, the
 * failed attempt ends with its error.
 */
import { spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import { fileURLToPath } from "node:url"
import { Effect, Option, Schema, Tracer } from "effect"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { layerPostgres, migrate } from "@jobtrack/adapter-kysely"
import { JobDefinition, RetryPolicy, Telemetry, Tracker } from "@jobtrack/core"
import { Kysely, PostgresDialect, sql } from "kysely"
import pg from "pg"
import { databaseUrl, randomSchema } from "./databases.js"

const url = databaseUrl()
const fixture = fileURLToPath(new URL("./fixtures/traced-worker.ts", import.meta.url))

// the same definition as the worker's; this process only enqueues it
const traced = JobDefinition.make({
  type: "traced",
  payload: Schema.Struct({ fail: Schema.Boolean }),
  retry: RetryPolicy.fixed("100 millis", 1),
  handler: () => Effect.succeed(null)
})

interface PrintedSpan {
  readonly name: string
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId: string | null
  readonly kind: string
  readonly attributes: Record<string, unknown>
  readonly events: ReadonlyArray<{ readonly name: string; readonly attributes: Record<string, unknown> }>
  readonly exit: "Success" | "Failure"
  readonly pid: number
}

describe.skipIf(!url)("a job's trace across processes (PostgreSQL)", { tags: ["postgres"] }, () => {
  const schema = randomSchema("jt_trace")
  let pool: pg.Pool
  let db: Kysely<unknown>
  let worker: ChildProcess
  const printed: Array<PrintedSpan> = []
  let waiters: Array<() => void> = []

  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: url!, max: 2 })
    db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool }) })
    await migrate(db, { schema })
    worker = spawn(process.execPath, [fixture, url!, schema], { stdio: ["ignore", "pipe", "pipe"] })
    let err = ""
    worker.stderr!.on("data", (d) => (err += d))
    await new Promise<void>((resolve, reject) => {
      let buffer = ""
      worker.stdout!.on("data", (d: Buffer) => {
        buffer += d.toString()
        let nl: number
        while ((nl = buffer.indexOf("\n")) >= 0) {
          const line = buffer.slice(0, nl)
          buffer = buffer.slice(nl + 1)
          if (line === "ready") resolve()
          else if (line.startsWith("{")) printed.push(JSON.parse(line) as PrintedSpan)
          for (const w of waiters) w()
        }
      })
      worker.once("exit", (code) => reject(new Error(`traced worker exited (${code}) before it was ready: ${err}`)))
    })
  }, 60_000)

  afterAll(async () => {
    if (worker && worker.exitCode === null) {
      worker.kill("SIGTERM")
      await new Promise((r) => worker.once("exit", r))
    }
    await sql.raw(`drop schema if exists "${schema}" cascade`).execute(db)
    await db.destroy()
  })

  /** Wait (bounded) until the worker printed spans satisfying `done`. */
  const spansUntil = (done: (spans: ReadonlyArray<PrintedSpan>) => boolean, ms = 20_000) =>
    new Promise<ReadonlyArray<PrintedSpan>>((resolve, reject) => {
      const check = () => {
        if (!done(printed)) return
        clearTimeout(timer)
        waiters = waiters.filter((w) => w !== check)
        resolve([...printed])
      }
      const timer = setTimeout(() => reject(new Error(`spans not printed in ${ms} ms: ${JSON.stringify(printed.map((s) => s.name))}`)), ms)
      waiters.push(check)
      check()
    })

  it("the attempts in the worker process join the request's trace under the enqueue span; the handler's span nests", async () => {
    const spans: Array<Tracer.NativeSpan> = []
    const tracer = Tracer.make({
      span(options) {
        const span = new Tracer.NativeSpan(options)
        spans.push(span)
        return span
      }
    })
    const { job } = await Effect.runPromise(
      Effect.gen(function*() {
        const tracker = yield* Tracker.make({ definitions: [traced] })
        return yield* tracker.enqueue(traced, { fail: true }).pipe(Effect.withSpan("POST /traced", { kind: "server" }))
      }).pipe(
        Effect.provide(layerPostgres({ connectionString: url!, schema, migrate: false, max: 2 })),
        Effect.provideService(Telemetry.Telemetry, Telemetry.settings()),
        Effect.withTracer(tracer)
      )
    )
    const request = spans.find((s) => s.name === "POST /traced")!
    const enqueue = spans.find((s) => s.name === "jobtrack.enqueue traced")!
    assert.strictEqual(Option.getOrThrow(enqueue.parent).spanId, request.spanId)
    assert.strictEqual(job.traceparent, `00-${request.traceId}-${enqueue.spanId}-01`)

    const mine = (s: PrintedSpan) => s.attributes["messaging.message.id"] === job.id
    const seen = await spansUntil((all) => all.filter((s) => s.name === "jobtrack.process traced" && mine(s)).length === 2)
    const attempts = seen.filter((s) => s.name === "jobtrack.process traced" && mine(s))
    assert.notStrictEqual(attempts[0]!.pid, process.pid, "run in another process")
    for (const [i, a] of attempts.entries()) {
      assert.strictEqual(a.traceId, request.traceId, "same trace as the request")
      assert.strictEqual(a.parentSpanId, enqueue.spanId, "child of the enqueue span")
      assert.strictEqual(a.kind, "consumer")
      assert.strictEqual(a.attributes["jobtrack.job.attempt"], i + 1)
      assert.strictEqual(a.attributes["messaging.destination.name"], "default")
      assert.deepInclude(a.events.map((e) => [e.name, e.attributes["jobtrack.progress"]]), ["progress", 50])
    }
    assert.deepStrictEqual(attempts.map((a) => [a.attributes["jobtrack.job.outcome"], a.exit]), [["retrying", "Failure"], ["completed", "Success"]])
    assert.isTrue(attempts[0]!.events.some((e) => e.name === "retry"))
    const handlers = (await spansUntil((all) => all.filter((s) => s.name === "handler.fetch" && s.traceId === request.traceId).length === 2))
      .filter((s) => s.name === "handler.fetch" && s.traceId === request.traceId)
    assert.sameMembers(handlers.map((h) => h.parentSpanId), attempts.map((a) => a.spanId))
  }, 60_000)
})
