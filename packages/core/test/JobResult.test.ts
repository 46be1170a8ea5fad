import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Schema } from "effect"
import { TestClock } from "effect/testing"
import { JobDefinition, Jobtrack, MemoryStore, RetryPolicy } from "@jobtrack/core"
import { setup } from "./helpers.js"

const double = JobDefinition.make({
  type: "double",
  payload: Schema.Struct({ n: Schema.Number }),
  result: Schema.Struct({ n: Schema.Number, at: Schema.DateFromString }),
  retry: RetryPolicy.fixed("1 second", 1),
  handler: ({ n }) =>
    n < 0
      ? Effect.fail(new Error(`cannot double ${n}`))
      : Effect.as(Effect.sleep("3 seconds"), { n: n * 2, at: new Date(Date.UTC(2026, 10, 30)) })
})

describe("awaited results", () => {
  it.effect("tracker.result waits for completion and returns the result decoded by the definition", () =>
    Effect.gen(function*() {
      const { tracker } = yield* setup([double])
      const { job } = yield* tracker.enqueue(double, { n: 21 })
      const waiting = yield* Effect.forkChild(tracker.result(job.id, { definition: double }))
      const untyped = yield* Effect.forkChild(tracker.result(job.id))
      yield* TestClock.adjust("5 seconds")
      const result = yield* Fiber.join(waiting)
      assert.strictEqual(result.n, 42)
      assert.instanceOf(result.at, Date)
      assert.deepStrictEqual(yield* Fiber.join(untyped), { n: 42, at: "2026-11-30T00:00:00.000Z" })
    }))

  it.effect("fails with JobFailed (every attempt's error) or JobCancelled", () =>
    Effect.gen(function*() {
      const { tracker } = yield* setup([double])
      const failing = yield* tracker.enqueue(double, { n: -1 })
      const failed = yield* Effect.forkChild(Effect.flip(tracker.result(failing.job.id)))
      yield* TestClock.adjust("5 seconds")
      const e = yield* Fiber.join(failed)
      assert.strictEqual(e._tag, "JobFailed")
      if (e._tag === "JobFailed") {
        assert.strictEqual(e.reason, "cannot double -1")
        assert.strictEqual(e.errors.length, 2)
      }
      const later = yield* tracker.enqueue(double, { n: 1 }, { delay: "1 hour" })
      const cancelled = yield* Effect.forkChild(Effect.flip(tracker.result(later.job.id)))
      yield* TestClock.adjust("1 second")
      yield* tracker.cancel(later.job.id)
      yield* TestClock.adjust("2 seconds")
      assert.strictEqual((yield* Fiber.join(cancelled))._tag, "JobCancelled")
    }))

  it.effect("owner-scoped: another owner's job is JobNotFound, as is an unknown id", () =>
    Effect.gen(function*() {
      const { tracker } = yield* setup([double])
      const { job } = yield* tracker.enqueue(double, { n: 1 }, { owner: "ann" })
      assert.strictEqual((yield* Effect.flip(tracker.result(job.id, { owner: "bob" })))._tag, "JobNotFound")
      assert.strictEqual((yield* Effect.flip(tracker.result(job.id, { owner: null })))._tag, "JobNotFound")
      assert.strictEqual((yield* Effect.flip(tracker.result("not-a-job")))._tag, "JobNotFound")
      const own = yield* Effect.forkChild(tracker.result(job.id, { owner: "ann", definition: double }))
      yield* TestClock.adjust("5 seconds")
      assert.strictEqual((yield* Fiber.join(own)).n, 2)
    }))

  it("Jobtrack.result (async) resolves with the typed result and rejects with the job's tagged error", async () => {
    const quick = JobDefinition.make({
      type: "quick",
      payload: Schema.Struct({ n: Schema.Number }),
      result: Schema.Struct({ n: Schema.Number }),
      retry: RetryPolicy.none,
      run: async ({ n }) => {
        if (n < 0) throw new Error("negative")
        return { n: n + 1 }
      }
    })
    const jobs = Jobtrack.make({ store: MemoryStore.layer, definitions: [quick], runner: { pollInterval: "20 millis" } })
    try {
      await jobs.start()
      const ok = await jobs.enqueue(quick, { n: 1 })
      const result = await jobs.result(ok.job.id, { definition: quick })
      assert.strictEqual(result.n, 2)
      const bad = await jobs.enqueue(quick, { n: -1 })
      const error = await jobs.result(bad.job.id).then(() => null, (e: unknown) => e as { _tag: string; reason: string })
      assert.strictEqual(error?._tag, "JobFailed")
      assert.strictEqual(error?.reason, "negative")
    } finally {
      await jobs.close()
    }
  })
})
