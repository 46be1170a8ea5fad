/**
 * What the runner owes a job as it stops: the last progress it reported is
 * written before the job settles, and a cancel aborts `ctx.signal` so
 * Promise code stops too.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { TestClock } from "effect/testing"
import { FatalError, JobDefinition, RetryPolicy } from "@jobtrack/core"
import type { JobStoreShape } from "@jobtrack/core"
import { setup } from "./helpers.js"

const Outcome = Schema.Struct({ fail: Schema.Boolean })

/** Wait (bounded) until the store holds this progress for the job. */
const stored = (store: JobStoreShape, id: string, progress: number) =>
  Effect.gen(function*() {
    for (let i = 0; i < 10_000; i++) {
      if ((yield* store.get(id)).progress === progress) return
      yield* Effect.yieldNow
    }
    return yield* Effect.die(new Error(`progress ${progress} never reached the store`))
  })

describe("Runner: settling", () => {
  it.effect("the last progress reported, held back by coalescing, is written before the job completes or fails", () =>
    Effect.gen(function*() {
      let store: JobStoreShape | undefined
      const def = JobDefinition.make({
        type: "steps",
        payload: Outcome,
        retry: RetryPolicy.none,
        handler: ({ fail }, ctx) =>
          Effect.gen(function*() {
            yield* ctx.progress(10, "first step")
            yield* stored(store!, ctx.id, 10) // the writer has spent its write for this period
            yield* ctx.progress(60, "last step") // coalesced: only the final write can carry it
            if (fail) return yield* new FatalError({ message: "stopped after the last step" })
          })
      })
      const made = yield* setup([def], { progressInterval: "1 hour" })
      store = made.store
      const ok = (yield* made.tracker.enqueue(def, { fail: false })).job
      const bad = (yield* made.tracker.enqueue(def, { fail: true })).job
      yield* TestClock.adjust("2 seconds")
      const completed = yield* made.tracker.get(ok.id)
      assert.strictEqual(completed.status, "completed")
      assert.strictEqual(completed.progressMessage, "last step")
      const failed = yield* made.tracker.get(bad.id)
      assert.strictEqual(failed.status, "failed")
      assert.deepStrictEqual([failed.progress, failed.progressMessage], [60, "last step"])
    }))

  it.effect("a cancel aborts ctx.signal with an AbortError, and the job ends cancelled", () =>
    Effect.gen(function*() {
      const reasons: Array<string> = []
      let stoppedListening = false
      const def = JobDefinition.make({
        type: "listening",
        payload: Schema.Struct({}),
        handler: (_, ctx) =>
          Effect.promise(() =>
            // Promise code that only stops when the signal says so
            new Promise<void>((resolve) => {
              ctx.signal.addEventListener("abort", () => {
                reasons.push((ctx.signal.reason as Error).name)
                stoppedListening = true
                resolve()
              })
            })
          )
      })
      const { tracker } = yield* setup([def])
      const { job } = yield* tracker.enqueue(def, {})
      yield* TestClock.adjust("1 second")
      assert.strictEqual((yield* tracker.get(job.id)).status, "processing")
      assert.deepStrictEqual(reasons, [])
      yield* tracker.cancel(job.id)
      yield* TestClock.adjust("1 second")
      assert.deepStrictEqual(reasons, ["AbortError"])
      assert.isTrue(stoppedListening)
      assert.strictEqual((yield* tracker.get(job.id)).status, "cancelled")
    }))
})
