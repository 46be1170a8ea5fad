/**
 * Shutdown while a claim is in flight. A claim sent to the database commits
 * whether or not its Effect is interrupted; before, shutdown interrupted the
 * claim loop and the jobs that claim got stayed `processing` under this
 * runner's lease, run by nobody, until the lease expired and recovery counted
 * the lost attempt. The store here commits the claim at once and then holds
 * its answer back until the test opens a gate, as a database answering late.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Schema } from "effect"
import type { Duration } from "effect"
import { TestClock } from "effect/testing"
import { JobDefinition, MemoryStore, RetryPolicy } from "@jobtrack/core"
import type { JobRecord, JobStoreShape } from "@jobtrack/core"
import { setup, yieldUntil } from "./helpers.js"

/**
 * A memory store whose claims, once `armed`, commit and then wait for `gate`
 * before answering; `committed` is completed with what such a claim took.
 */
const delayed = Effect.gen(function*() {
  const store = yield* MemoryStore.make
  const gate = yield* Deferred.make<void>()
  const committed = yield* Deferred.make<ReadonlyArray<JobRecord>>()
  const state = { armed: false, claims: 0, released: 0 }
  const wrapped: JobStoreShape = {
    ...store,
    claim: (request) =>
      Effect.tap(store.claim(request), (jobs) =>
        Effect.suspend(() => {
          state.claims++
          if (!state.armed) return Effect.void
          return Effect.andThen(Deferred.succeed(committed, jobs), Deferred.await(gate))
        })),
    release: (lease) => Effect.tap(store.release(lease), () => Effect.sync(() => void state.released++))
  }
  return { store: wrapped, gate, committed, state }
})


const runs = { count: 0 }
const once = JobDefinition.make({
  type: "once",
  payload: Schema.Struct({ i: Schema.Int }),
  retry: RetryPolicy.none,
  handler: () => Effect.sync(() => void runs.count++)
})

/** Start the runner, let its first (empty) claim pass, then enqueue two jobs and wait until a claim has taken them. */
const inFlight = (shutdownGrace: Duration.Input) =>
  Effect.gen(function*() {
    const { committed, gate, state, store } = yield* delayed
    const { runners, tracker } = yield* setup([once], { store, pollInterval: "1 minute", concurrency: 10, shutdownGrace })
    yield* yieldUntil(() => state.claims >= 1, "the runner's first claim")
    state.armed = true
    runs.count = 0
    yield* tracker.enqueueMany(once, [{ payload: { i: 1 } }, { payload: { i: 2 } }])
    const claimed = yield* Deferred.await(committed)
    assert.strictEqual(claimed.length, 2)
    for (const job of claimed) assert.strictEqual((yield* store.get(job.id)).status, "processing")
    // shutdown begins while the claim's answer is outstanding (it runs up to its first wait here)
    const shutdown = yield* Effect.forkChild(runners[0]!.shutdown, { startImmediately: true })
    return { claimed, gate, shutdown, state, store }
  })

describe("Runner: shutdown with a claim in flight", () => {
  it.effect("the jobs the claim got are released (pending, attempt given back), not left processing", () =>
    Effect.gen(function*() {
      const { claimed, gate, shutdown, state, store } = yield* inFlight("10 seconds")
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(shutdown)
      assert.strictEqual(state.released, 2)
      for (const job of claimed) {
        const after = yield* store.get(job.id)
        assert.strictEqual(after.status, "pending")
        assert.strictEqual(after.attempts, 0)
        assert.strictEqual(after.lockedBy, null)
      }
      assert.strictEqual(runs.count, 0)
    }))

  it.effect("a claim that does not answer holds shutdown for the grace period, no longer; its jobs are released once it answers", () =>
    Effect.gen(function*() {
      const { claimed, gate, shutdown, state, store } = yield* inFlight("10 seconds")
      yield* TestClock.adjust("9 seconds")
      assert.isUndefined(shutdown.pollUnsafe(), "shutdown waits for the claim within the grace")
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(shutdown)
      // shutdown is over; the claim answers late: the loop still gives its jobs back
      for (const job of claimed) assert.strictEqual((yield* store.get(job.id)).status, "processing")
      yield* Deferred.succeed(gate, undefined)
      yield* yieldUntil(() => state.released === 2, "the late claim's jobs released")
      for (const job of claimed) {
        const after = yield* store.get(job.id)
        assert.strictEqual(after.status, "pending")
        assert.strictEqual(after.attempts, 0)
      }
      assert.strictEqual(runs.count, 0)
    }))
})
