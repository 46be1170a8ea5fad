/**
 * What the runner owes a job as it stops: the last progress it reported is
 * written before the job settles, and a cancel aborts `ctx.signal` so
 * Promise code stops too.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Schema, Scope } from "effect"
import { TestClock } from "effect/testing"
import { FatalError, JobDefinition, MemoryStore, RetryPolicy, StoreError } from "@jobtrack/core"
import type { JobStoreShape } from "@jobtrack/core"
import { setup, waitFor, yieldUntil } from "./helpers.js"

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

  it.effect("ctx's functions may be taken apart (`const { progress, log } = ctx`) and still reach the store", () =>
    Effect.gen(function*() {
      let store: JobStoreShape | undefined
      const def = JobDefinition.make({
        type: "apart",
        payload: Schema.Struct({}),
        handler: (_, ctx) =>
          Effect.gen(function*() {
            const { id, log, progress, signal } = ctx
            yield* progress(40, "halfway")
            yield* log("a line", { n: 1 })
            yield* stored(store!, id, 40)
            return signal.aborted
          })
      })
      const made = yield* setup([def], { progressInterval: "1 millis" })
      store = made.store
      const { job } = yield* made.tracker.enqueue(def, {})
      yield* TestClock.adjust("1 second")
      const done = yield* made.tracker.get(job.id)
      assert.strictEqual(done.status, "completed")
      assert.strictEqual(done.result, false)
      assert.strictEqual(done.progressMessage, "halfway")
    }))

  it.effect("a completion the store refuses leaves the job to lease recovery, frees its slot, and shutdown still ends", () =>
    Effect.gen(function*() {
      const base = yield* MemoryStore.make
      let refused = 0
      const store: JobStoreShape = {
        ...base,
        completeMany: (items) =>
          items.some((c) => c.result === "refuse")
            ? Effect.sync(() => refused++).pipe(
              Effect.andThen(Effect.fail(new StoreError({ reason: "refused by the test", retryable: false })))
            )
            : base.completeMany(items)
      }
      const def = JobDefinition.make({
        type: "echo",
        payload: Schema.Struct({ say: Schema.String }),
        handler: ({ say }) => Effect.succeed(say)
      })
      const scope = yield* Scope.make()
      const { runners, tracker } = yield* setup([def], { store, concurrency: 1 }).pipe(Scope.provide(scope))
      const bad = (yield* tracker.enqueue(def, { say: "refuse" })).job
      yield* yieldUntil(() => refused === 1, "the refused completion")
      // enqueued once the refusal is over: a completion written in the same batch would be refused with it
      const ok = (yield* tracker.enqueue(def, { say: "fine" })).job
      yield* waitFor(tracker, ok.id, (v) => v.status === "completed")
      assert.strictEqual(refused, 1)
      // the refused job is still the store's "processing" (its lease will expire); the next one ran in its slot
      assert.strictEqual((yield* tracker.get(bad.id)).status, "processing")
      assert.strictEqual((yield* tracker.get(ok.id)).status, "completed")
      assert.deepStrictEqual(runners[0]!.running(), [])
      yield* Scope.close(scope, Exit.void)
    }))
})
