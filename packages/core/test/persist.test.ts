/**
 * A settling write (complete, fail, cancelled, release) is retried while the
 * store says its failure is retryable, on the store backoff, for about the
 * lease (internal/runner/persist.ts); any other failure ends it at once.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { LeaseLost, StoreError } from "@jobtrack/core"
import { persist } from "../src/internal/runner/persist.js"

/** A write that fails with `failures` in turn, then succeeds with "written"; counts its runs. */
const scripted = (failures: ReadonlyArray<LeaseLost | StoreError>) => {
  let runs = 0
  const write = Effect.suspend(() => {
    const failure = failures[runs++]
    return failure === undefined ? Effect.succeed("written") : Effect.fail(failure)
  })
  return { write, runs: () => runs }
}

const lost = () => new StoreError({ reason: "connection lost", retryable: true })

describe("persist", () => {
  it.effect("a retryable failure is retried after the backoff until the write succeeds", () =>
    Effect.gen(function*() {
      const { runs, write } = scripted([lost(), lost()])
      const fiber = yield* Effect.forkChild(persist(write, 30_000))
      yield* TestClock.adjust("50 millis")
      assert.strictEqual(runs(), 1, "no retry before the first delay")
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* Fiber.join(fiber), "written")
      assert.strictEqual(runs(), 3)
    }))

  it.effect("a refused write (lease lost) or a failure that is not retryable fails at once", () =>
    Effect.gen(function*() {
      const refused = scripted([new LeaseLost({ id: "j", token: 1 })])
      const e1 = yield* Effect.flip(persist(refused.write, 30_000))
      assert.strictEqual(e1._tag, "LeaseLost")
      const rejected = scripted([new StoreError({ reason: "bad row", retryable: false })])
      const e2 = yield* Effect.flip(persist(rejected.write, 30_000))
      assert.strictEqual(e2._tag, "StoreError")
      assert.deepStrictEqual([refused.runs(), rejected.runs()], [1, 1])
    }))

  it.effect("retrying stops after about the lease: the last failure is the outcome", () =>
    Effect.gen(function*() {
      const { runs, write } = scripted(Array.from({ length: 100 }, lost))
      const fiber = yield* Effect.forkChild(Effect.flip(persist(write, 1_000)))
      yield* TestClock.adjust("1 minute")
      const e = yield* Fiber.join(fiber)
      assert.strictEqual(e._tag, "StoreError")
      assert.isAbove(runs(), 1)
      assert.isBelow(runs(), 20)
    }))
})
