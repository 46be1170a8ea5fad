/**
 * A progress message is kept cut to 1,024 characters (UTF-16 code units, an
 * ellipsis marking the cut, never half a surrogate pair): it is in every view,
 * list item and change event of the job, so a handler reporting 5,000,000
 * characters made each list page and stream that large (an audit measured a
 * 15 MB console page from three such jobs). Before, the whole text was
 * stored, and the telemetry observer got it too.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Metric, Schema, Tracer } from "effect"
import { TestClock } from "effect/testing"
import { JobDefinition, RetryPolicy, Storable, Telemetry } from "@jobtrack/core"
import { setup } from "./helpers.js"

const Empty = Schema.Struct({})

/** A job whose handler reports 10 % with `message`, then completes (the view keeps the last message). */
const reporting = (type: string, message: string) =>
  JobDefinition.make({
    type,
    payload: Empty,
    retry: RetryPolicy.none,
    handler: (_, ctx) => ctx.progress(10, message)
  })

describe("Runner: a progress message", () => {
  it.effect("of 5,000,000 characters is stored as its first 1,023 and an ellipsis (Effect and async handlers)", () =>
    Effect.gen(function*() {
      const effectful = reporting("loud", "x".repeat(5_000_000))
      const plain = JobDefinition.make({
        type: "loud-async",
        payload: Empty,
        retry: RetryPolicy.none,
        run: async (_, ctx) => {
          await ctx.progress(10, "é".repeat(5_000_000))
          return null
        }
      })
      const { tracker } = yield* setup([effectful, plain])
      const a = (yield* tracker.enqueue(effectful, {})).job
      const b = (yield* tracker.enqueue(plain, {})).job
      yield* TestClock.adjust("1 minute")
      const [va, vb] = [yield* tracker.get(a.id), yield* tracker.get(b.id)]
      assert.strictEqual(va.status, "completed")
      assert.strictEqual(vb.status, "completed")
      assert.strictEqual(va.progressMessage, `${"x".repeat(1_023)}…`)
      assert.strictEqual(vb.progressMessage, `${"é".repeat(1_023)}…`)
      // a short message is kept as given
      const short = reporting("short", "Fetching…")
      const { tracker: t2 } = yield* setup([short])
      const c = (yield* t2.enqueue(short, {})).job
      yield* TestClock.adjust("1 minute")
      assert.strictEqual((yield* t2.get(c.id)).progressMessage, "Fetching…")
    }))

  it.effect("is never cut between the halves of a surrogate pair", () =>
    Effect.gen(function*() {
      // 1,023 code units would end on the high half of the 512th emoji
      const def = reporting("emoji", "😀".repeat(600))
      const { tracker } = yield* setup([def])
      const { job } = yield* tracker.enqueue(def, {})
      yield* TestClock.adjust("1 minute")
      const message = (yield* tracker.get(job.id)).progressMessage ?? ""
      assert.strictEqual(message, `${"😀".repeat(511)}…`)
      assert.isUndefined(Storable.textProblem(message))
    }))

  it.effect("reaches the telemetry observer cut the same way", () => {
    const spans: Array<Tracer.NativeSpan> = []
    const tracer = Tracer.make({
      span(options) {
        const span = new Tracer.NativeSpan(options)
        spans.push(span)
        return span
      }
    })
    return Effect.gen(function*() {
      const def = reporting("observed", "y".repeat(5_000_000))
      const { tracker } = yield* setup([def])
      const { job } = yield* tracker.enqueue(def, {})
      yield* TestClock.adjust("1 minute")
      assert.strictEqual((yield* tracker.get(job.id)).status, "completed")
      const attempt = spans.find((s) => s.name === "jobtrack.process observed")
      const event = attempt?.events.find(([name]) => name === "progress")
      assert.strictEqual(event?.[2]["jobtrack.progress.message"], `${"y".repeat(1_023)}…`)
    }).pipe(
      Effect.withTracer(tracer),
      Effect.provideService(Telemetry.Telemetry, Telemetry.settings()),
      Effect.provideService(Metric.MetricRegistry, new Map())
    )
  })
})
