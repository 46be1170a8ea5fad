/**
 * The runner keeps a store's chart summary current (`summarizeSeries`, where
 * the store has it): at start and every `seriesSummary.every`, step after step
 * while more is due; a failed step is logged and retried at the next period;
 * `seriesSummary: false` never calls it; shutdown stops it.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Logger, Scope } from "effect"
import { TestClock } from "effect/testing"
import { MemoryStore, StoreError } from "@jobtrack/core"
import type { AdminStore, JobStoreShape } from "@jobtrack/core"
import { setup } from "./helpers.js"

/** A memory store whose summary has `due` steps to do now; `failAt` steps fail, `dieAt` steps die (a defect). */
const summarizing = (
  due: { n: number },
  calls: Array<number>,
  failAt: ReadonlyArray<number> = [],
  dieAt: ReadonlyArray<number> = []
) =>
  Effect.map(MemoryStore.make, (store): JobStoreShape => ({
    ...store,
    summarizeSeries: () =>
      Effect.suspend((): Effect.Effect<AdminStore.SeriesSummaryStep, StoreError> => {
        calls.push(calls.length)
        if (failAt.includes(calls.length)) return Effect.fail(new StoreError({ reason: "summarizeSeries failed (57014)", retryable: true }))
        if (dieAt.includes(calls.length)) return Effect.die(new TypeError("a bug in a step"))
        if (due.n === 0) return Effect.succeed({ jobs: 0, more: false })
        due.n--
        return Effect.succeed({ jobs: 100, more: due.n > 0 })
      })
  }))

const settle = Effect.gen(function*() {
  for (let i = 0; i < 10; i++) yield* Effect.yieldNow
})

describe("Runner chart summary", () => {
  it.effect("at start, steps until nothing is due; then every period; a failure waits for the next", () =>
    Effect.gen(function*() {
      const due = { n: 3 }
      const calls: Array<number> = []
      const store = yield* summarizing(due, calls, [5])
      const scope = yield* Scope.make()
      yield* setup([], { store, seriesSummary: { every: "30 seconds" } }).pipe(Scope.provide(scope))
      yield* settle
      assert.strictEqual(calls.length, 3, "three steps due at start, one after the other")
      yield* TestClock.adjust("29 seconds")
      assert.strictEqual(calls.length, 3)
      due.n = 2
      yield* TestClock.adjust("1 second")
      yield* settle
      assert.strictEqual(calls.length, 5, "the 4th step, then the 5th fails: no 6th until the next period")
      yield* TestClock.adjust("30 seconds")
      yield* settle
      assert.strictEqual(calls.length, 6, "the last step that was due")
      yield* Scope.close(scope, Exit.void)
      due.n = 5
      yield* TestClock.adjust("5 minutes")
      yield* settle
      assert.strictEqual(calls.length, 6, "stopped with the runner")
    }))

  it.effect("a defect in a step is logged and the next period tries again (the loop does not end)", () =>
    Effect.gen(function*() {
      const due = { n: 3 }
      const calls: Array<number> = []
      const logged: Array<string> = []
      const logger = Logger.make<unknown, void>(({ cause, logLevel, message }) => {
        logged.push(`${logLevel} ${JSON.stringify(message)} ${Cause.pretty(cause)}`)
      })
      const store = yield* summarizing(due, calls, [], [2])
      const scope = yield* Scope.make()
      yield* setup([], { store, seriesSummary: { every: "30 seconds" } }).pipe(
        Scope.provide(scope),
        Effect.provide(Logger.layer([logger]))
      )
      yield* settle
      assert.strictEqual(calls.length, 2, "the 2nd step dies: no 3rd until the next period")
      assert.isTrue(logged.some((l) => l.includes("chart summary failed") && l.includes("a bug in a step")), logged.join("\n"))
      yield* TestClock.adjust("30 seconds")
      yield* settle
      assert.strictEqual(calls.length, 4, "the loop went on: the steps still due, then nothing due")
      assert.strictEqual(due.n, 0)
      yield* Scope.close(scope, Exit.void)
    }))

  it.effect("seriesSummary: false never calls it", () =>
    Effect.gen(function*() {
      const calls: Array<number> = []
      const store = yield* summarizing({ n: 3 }, calls)
      yield* setup([], { store, seriesSummary: false })
      yield* TestClock.adjust("5 minutes")
      yield* settle
      assert.strictEqual(calls.length, 0)
    }))
})
