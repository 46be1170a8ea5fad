/**
 * Shutdown of hook delivery is bounded when the store stops answering: a
 * delivery still running after the grace is interrupted and its hand-back
 * (the write that ends its attempt) is waited for at most the runner's
 * hand-back bound (5 s); then shutdown ends and the delivery is left to
 * lease recovery. Before, shutdown waited for that write for as long as the
 * store did not answer (here: never).
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Schema, Scope } from "effect"
import { TestClock } from "effect/testing"
import { HookDelivery, JobDefinition, JobStore, MemoryStore, RetryPolicy } from "@jobtrack/core"
import type { JobStoreShape } from "@jobtrack/core"
import { setup } from "./helpers.js"

const bad = JobDefinition.make({
  type: "bad",
  payload: Schema.Struct({}),
  retry: RetryPolicy.none,
  handler: () => Effect.fail("no")
})

describe("HookDelivery: shutdown while the store does not answer", () => {
  it.effect("ends after the grace and the hand-back bound; the delivery stays leased for lease recovery", () => {
    // the store answers again only when the test ends (so a failing test does not hang its teardown)
    let answer!: () => void
    const answers = new Promise<void>((resolve) => (answer = resolve))
    return Effect.gen(function*() {
      const base = yield* MemoryStore.make
      yield* base.subscribeHooks({ types: ["bad"], events: ["failed"] })
      const { tracker } = yield* setup([bad], { store: base, hooks: { onCompleted: () => Effect.void } })
      const { job } = yield* tracker.enqueue(bad, {})
      yield* TestClock.adjust("1 second")

      let answering = true
      const store: JobStoreShape = {
        ...base,
        // the hand-back write of an interrupted delivery: sent once the store stopped answering
        deliveryFailed: (input) => (answering ? base.deliveryFailed(input) : Effect.andThen(Effect.promise(() => answers), base.deliveryFailed(input)))
      }
      const calling = yield* Deferred.make<void>()
      const scope = yield* Scope.make()
      yield* HookDelivery.make({
        types: ["bad"],
        shutdownGrace: "1 second",
        hooks: { onFailed: () => Effect.andThen(Deferred.succeed(calling, undefined), Effect.never) }
      }).pipe(Effect.provideService(JobStore, store), Scope.provide(scope))
      yield* Deferred.await(calling)
      answering = false

      const closing = yield* Effect.forkChild(Scope.close(scope, Exit.void), { startImmediately: true })
      yield* TestClock.adjust("1 second") // the grace: the delivery is interrupted, its hand-back hangs
      for (let i = 0; i < 100; i++) yield* Effect.yieldNow
      assert.isUndefined(closing.pollUnsafe(), "shutdown ended before the hand-back bound")
      yield* TestClock.adjust("5 seconds") // the hand-back bound
      for (let i = 0; i < 1_000 && closing.pollUnsafe() === undefined; i++) yield* Effect.yieldNow
      assert.isDefined(closing.pollUnsafe(), "shutdown still waits for a hand-back the store never answers")
      const [left] = yield* base.listDeliveries({ jobId: job.id })
      assert.strictEqual(left?.status, "delivering")
    }).pipe(Effect.ensuring(Effect.sync(() => answer())))
  })
})
