/**
 * A plain async handler stopped by the runner (here: its timeout) that
 * ignores `ctx.signal` keeps running; the attempt is not over until its
 * Promise settles (at most `abandonAfter`): its slot, its group's place and
 * its lease stay taken, so neither its retry nor another job of its group
 * runs beside it. Before, the Promise was dropped at the timeout: the slot
 * and the group's place were freed at once and a second body ran beside the
 * first in a group of limit 1 (the audit saw five at once).
 *
 * Time is the TestClock's; the bodies wait on gates the test opens.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Schema, Scope } from "effect"
import { TestClock } from "effect/testing"
import { JobDefinition, MemoryStore, RetryPolicy } from "@jobtrack/core"
import { setup, waitFor, yieldUntil } from "./helpers.js"

/** A gate per body started: the body ends when the test opens its gate. */
const bodies = () => {
  const gates: Array<() => void> = []
  const state = { live: 0, maxLive: 0, aborted: 0, gates }
  const run = async (_: unknown, ctx: { readonly signal: AbortSignal }) => {
    state.live++
    state.maxLive = Math.max(state.maxLive, state.live)
    // sees the abort, and ignores it
    ctx.signal.addEventListener("abort", () => state.aborted++)
    await new Promise<void>((resolve) => gates.push(resolve))
    state.live--
    return null
  }
  return { state, run }
}

/** End every body still running (before the runner's shutdown, which waits for them on a clock that stands still). */
const openAll = (state: { readonly gates: Array<() => void> }) =>
  Effect.sync(() => {
    for (const open of state.gates.splice(0)) open()
  })

/** Let every other fiber run `n` times over, checking `ok` after each turn (deterministic: no time passes). */
const holds = (ok: () => boolean, what: string, n = 2_000) =>
  Effect.gen(function*() {
    for (let i = 0; i < n; i++) {
      if (!ok()) return yield* Effect.die(new Error(`broken: ${what}`))
      yield* Effect.yieldNow
    }
  })

describe("Runner: a stopped async handler that ignores its signal", () => {
  it.effect("keeps its slot and its group's place until its Promise settles: never two bodies in a group of limit 1", () => {
    const { run, state } = bodies()
    return Effect.gen(function*() {
      const def = JobDefinition.make({
        type: "deaf",
        payload: Schema.Struct({ n: Schema.Number }),
        timeout: "200 millis",
        retry: RetryPolicy.none,
        group: { key: () => "one", limit: 1 },
        run
      })
      const { tracker } = yield* setup([def], { concurrency: 5 })
      const jobs = []
      for (const n of [1, 2, 3]) jobs.push((yield* tracker.enqueue(def, { n })).job)
      for (let i = 1; i <= 3; i++) {
        yield* yieldUntil(() => state.gates.length === 1, `body ${i} starts`)
        yield* TestClock.adjust("200 millis")
        yield* yieldUntil(() => state.aborted === i, `the timeout aborts attempt ${i}'s signal`)
        // the body still runs: nothing else of the group may start, its job stays held
        yield* holds(() => state.live === 1, `a body started beside body ${i} (group limit 1)`)
        if (i === 1) {
          yield* TestClock.adjust("1 second") // a poll, and the lease keeper's beats
          yield* holds(() => state.live === 1, "a body started beside the first after a poll")
          const views = yield* Effect.forEach(jobs, (j) => tracker.get(j.id))
          assert.deepStrictEqual(views.map((v) => v.status), ["processing", "pending", "pending"])
        }
        // the body ends: the attempt is over (timed out), the group's next job may start
        state.gates.shift()!()
        yield* waitFor(tracker, jobs[i - 1]!.id, (v) => v.status === "failed")
      }
      assert.strictEqual(state.maxLive, 1)
      for (const j of jobs) assert.match((yield* tracker.get(j.id)).errorMessage ?? "", /timed out/)
    }).pipe(Effect.ensuring(openAll(state)))
  })

  it.effect("is abandoned after abandonAfter: the attempt settles and the slot frees while it still runs", () => {
    const { run, state } = bodies()
    return Effect.gen(function*() {
      const def = JobDefinition.make({
        type: "deaf",
        payload: Schema.Struct({ n: Schema.Number }),
        timeout: "200 millis",
        retry: RetryPolicy.none,
        group: { key: () => "one", limit: 1 },
        run
      })
      const { tracker } = yield* setup([def], { abandonAfter: "5 seconds" })
      const a = (yield* tracker.enqueue(def, { n: 1 })).job
      yield* yieldUntil(() => state.live === 1, "the body starts")
      yield* TestClock.adjust("200 millis")
      yield* yieldUntil(() => state.aborted === 1, "the timeout aborts the signal")
      yield* TestClock.adjust("4 seconds")
      assert.strictEqual((yield* tracker.get(a.id)).status, "processing")
      yield* TestClock.adjust("1 second")
      const failed = yield* waitFor(tracker, a.id, (v) => v.status === "failed")
      assert.match(failed.errorMessage ?? "", /timed out/)
      assert.strictEqual(state.live, 1) // abandoned, still running
    }).pipe(Effect.ensuring(openAll(state)))
  })

  it.effect("a shutdown while the runner waits for it keeps the attempt's outcome (timed out), not a release", () => {
    // before: the timed-out run had no stop reason yet, so the shutdown became its reason and the
    // settle released the job (pending, attempts 0): a handler that always hangs never used up
    // its attempts if restarts came often enough
    const { run, state } = bodies()
    return Effect.gen(function*() {
      const def = JobDefinition.make({
        type: "deaf",
        payload: Schema.Struct({ n: Schema.Number }),
        timeout: "200 millis",
        retry: RetryPolicy.none,
        run
      })
      const store = yield* MemoryStore.make
      const { tracker } = yield* setup([def], { store, runners: 0 })
      const scope = yield* Scope.make()
      yield* setup([def], { store, shutdownGrace: "1 second" }).pipe(Scope.provide(scope))
      const a = (yield* tracker.enqueue(def, { n: 1 })).job
      yield* yieldUntil(() => state.live === 1, "the body starts")
      yield* TestClock.adjust("200 millis")
      yield* yieldUntil(() => state.aborted === 1, "the timeout aborts the signal")
      const closing = yield* Effect.forkChild(Scope.close(scope, Exit.void))
      yield* holds(() => state.live === 1, "the body still runs while the runner shuts down")
      yield* TestClock.adjust("1 second") // the grace: the runner stops what still runs
      yield* holds(() => state.live === 1, "the body still runs after the grace")
      state.gates.shift()!()
      yield* Fiber.join(closing)
      const view = yield* tracker.get(a.id)
      assert.strictEqual(view.status, "failed")
      assert.strictEqual(view.attempts, 1)
      assert.match(view.errorMessage ?? "", /timed out/)
    }).pipe(Effect.ensuring(openAll(state)))
  })
})
