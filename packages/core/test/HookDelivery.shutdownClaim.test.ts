/**
 * Shutdown while a delivery claim is in flight. A claim sent to the store
 * commits whether or not its Effect is interrupted; before, shutdown
 * interrupted the delivery loop and the deliveries that claim took stayed
 * `delivering` under this process's lease, called by nobody, until the lease
 * expired (and each such loss counts an attempt). The store here commits the
 * claim and then holds its answer back until the test opens a gate, as a
 * database answering late.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Schema, Scope } from "effect"
import { TestClock } from "effect/testing"
import { HookDelivery, JobDefinition, JobStore, MemoryStore, RetryPolicy } from "@jobtrack/core"
import type { HookDeliveryRecord, JobStoreShape } from "@jobtrack/core"
import { setup } from "./helpers.js"

const bad = JobDefinition.make({
  type: "bad",
  payload: Schema.Struct({}),
  retry: RetryPolicy.none,
  handler: () => Effect.fail("no")
})

describe("HookDelivery: shutdown with a claim in flight", () => {
  it.effect("the deliveries it took are given back, not left leased; the hook is not called", () =>
    Effect.gen(function*() {
      const base = yield* MemoryStore.make
      // a process with the failed hook subscribed when it started; this one runs the jobs only
      yield* base.subscribeHooks({ types: ["bad"], events: ["failed"] })
      const { tracker } = yield* setup([bad], { store: base, hooks: { onCompleted: () => Effect.void } })
      const { job } = yield* tracker.enqueue(bad, {})
      yield* TestClock.adjust("1 second")
      const [waiting] = yield* base.listDeliveries({ jobId: job.id })
      assert.strictEqual(waiting?.status, "pending")

      const gate = yield* Deferred.make<void>()
      const committed = yield* Deferred.make<ReadonlyArray<HookDeliveryRecord>>()
      const store: JobStoreShape = {
        ...base,
        claimDeliveries: (request) =>
          Effect.tap(base.claimDeliveries(request), (taken) =>
            taken.length === 0 ? Effect.void : Effect.andThen(Deferred.succeed(committed, taken), Deferred.await(gate)))
      }
      let called = 0
      const scope = yield* Scope.make()
      yield* HookDelivery.make({ types: ["bad"], hooks: { onFailed: () => Effect.sync(() => void called++) } })
        .pipe(Effect.provideService(JobStore, store), Scope.provide(scope))
      const taken = yield* Deferred.await(committed)
      assert.strictEqual(taken.length, 1)
      assert.strictEqual((yield* base.listDeliveries({ jobId: job.id }))[0]?.status, "delivering")

      const closing = yield* Effect.forkChild(Scope.close(scope, Exit.void), { startImmediately: true })
      // let shutdown run as far as it goes while the claim has not answered
      for (let i = 0; i < 100; i++) yield* Effect.yieldNow
      assert.isUndefined(closing.pollUnsafe(), "shutdown did not wait for the claim in flight")
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(closing)

      const [after] = yield* base.listDeliveries({ jobId: job.id })
      assert.strictEqual(after?.status, "pending", "the delivery stayed leased by a process that is gone")
      assert.isNull(after?.lockedBy ?? null)
      assert.strictEqual(after?.lastError, "released at shutdown")
      assert.strictEqual(called, 0)
    }))
})
