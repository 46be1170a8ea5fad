/**
 * What makes a runner claim once its queues are drained (issue 13 item 7): an
 * announcement (an enqueue, a limited group's job released) or the poll
 * interval, not each job it finishes. Before, every finished job woke an
 * empty claim: about one claim per job that found nothing, in every process.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema, Stream } from "effect"
import type { Duration } from "effect"
import { TestClock } from "effect/testing"
import { JobDefinition, MemoryStore, RetryPolicy } from "@jobtrack/core"
import type { JobStoreShape } from "@jobtrack/core"
import { setup, waitFor, yieldUntil } from "./helpers.js"

/** A memory store recording how many jobs each claim returned. */
const counting = Effect.gen(function*() {
  const store = yield* MemoryStore.make
  const claims: Array<number> = []
  const counted: JobStoreShape = {
    ...store,
    claim: (request) => Effect.tap(store.claim(request), (jobs) => Effect.sync(() => void claims.push(jobs.length)))
  }
  return { store: counted, claims }
})


const noop = JobDefinition.make({
  type: "noop",
  payload: Schema.Struct({ i: Schema.Int }),
  retry: RetryPolicy.none,
  handler: () => Effect.void
})

/** A job whose first attempt fails, retried once after `delay`. */
const failingOnce = (delay: Duration.Input) => {
  let attempts = 0
  return JobDefinition.make({
    type: "flaky",
    payload: Schema.Struct({}),
    retry: RetryPolicy.fixed(delay, 1),
    handler: () => ++attempts === 1 ? Effect.fail(new Error("first attempt fails")) : Effect.void
  })
}

describe("Runner: claims after the queues are drained", () => {
  it.effect("a finished job does not make the runner claim again; each enqueue does, once", () =>
    Effect.gen(function*() {
      const { store, claims } = yield* counting
      const { tracker } = yield* setup([noop], { store, pollInterval: "1 minute", concurrency: 10 })
      yield* yieldUntil(() => claims.length >= 1, "the runner's first claim")
      for (let i = 0; i < 5; i++) {
        const { job } = yield* tracker.enqueue(noop, { i })
        yield* waitFor(tracker, job.id, (v) => v.status === "completed")
      }
      // whatever the finished jobs would wake has run by now
      for (let i = 0; i < 100; i++) yield* Effect.yieldNow
      // the first claim (before any job) found nothing; each later one found the job announced
      assert.deepStrictEqual(claims, [0, 1, 1, 1, 1, 1])
    }))

  it.effect("a limited group's job released lets the next job of its group be claimed, without a poll", () =>
    Effect.gen(function*() {
      const { store, claims } = yield* counting
      const grouped = JobDefinition.make({
        type: "grouped",
        payload: Schema.Struct({ i: Schema.Int }),
        retry: RetryPolicy.none,
        group: { key: () => "one", limit: 1 },
        handler: () => Effect.void
      })
      const { tracker } = yield* setup([grouped], { store, pollInterval: "1 minute", concurrency: 10 })
      const first = (yield* tracker.enqueueMany(grouped, [{ payload: { i: 1 } }, { payload: { i: 2 } }]))
      yield* yieldUntil(() => claims.reduce((a, b) => a + b, 0) >= 2, "both jobs claimed (the clock never moves)")
      for (const { job } of first) assert.strictEqual((yield* waitFor(tracker, job.id, (v) => v.status === "completed")).status, "completed")
    }))

  it.effect("a job retried without delay is claimed again at once, without a poll", () =>
    Effect.gen(function*() {
      const { store, claims } = yield* counting
      const flaky = failingOnce("0 millis")
      const { tracker } = yield* setup([flaky], { store, pollInterval: "1 minute", concurrency: 10 })
      const { job } = yield* tracker.enqueue(flaky, {})
      yield* yieldUntil(() => claims.filter((n) => n > 0).length >= 2, "the retry claimed (the clock never moves)")
      assert.strictEqual((yield* waitFor(tracker, job.id, (v) => v.status === "completed")).attempts, 2)
    }))

  it.effect("a retry with a delay wakes no claim when it is scheduled; the memory store announces it when due", () =>
    Effect.gen(function*() {
      const { store, claims } = yield* counting
      const flaky = failingOnce("10 seconds")
      const { tracker } = yield* setup([flaky], { store, pollInterval: "1 minute", concurrency: 10 })
      const { job } = yield* tracker.enqueue(flaky, {})
      yield* waitFor(tracker, job.id, (v) => v.status === "retrying")
      // whatever the failure would wake has run by now
      for (let i = 0; i < 100; i++) yield* Effect.yieldNow
      // no claim after the one that took the first attempt
      assert.deepStrictEqual(claims.slice(claims.indexOf(1) + 1), [], `a claim for a retry not due yet: ${JSON.stringify(claims)}`)
      yield* TestClock.adjust("9999 millis")
      for (let i = 0; i < 100; i++) yield* Effect.yieldNow
      assert.strictEqual((yield* tracker.get(job.id)).status, "retrying")
      // due at 10 s, the poll only at 60 s: claimed at 10 s (before: at the poll)
      yield* TestClock.adjust("1 millis")
      yield* yieldUntil(() => claims.filter((n) => n > 0).length >= 2, "the retry claimed when due")
      assert.strictEqual((yield* waitFor(tracker, job.id, (v) => v.status === "completed")).attempts, 2)
      assert.deepStrictEqual(claims.slice(claims.indexOf(1) + 1), [1], "one claim, when due")
    }))

  it.effect("a job enqueued to run later, and a durable sleep, are claimed when due on the memory store, not at the poll", () =>
    Effect.gen(function*() {
      const { store, claims } = yield* counting
      let runs = 0
      const sleeper = JobDefinition.make({
        type: "sleeper",
        payload: Schema.Struct({}),
        retry: RetryPolicy.none,
        handler: (_, ctx) => Effect.suspend(() => (runs++, ctx.sleep("3 seconds")))
      })
      const { tracker } = yield* setup([noop, sleeper], { store, pollInterval: "1 hour", concurrency: 10 })
      yield* yieldUntil(() => claims.length >= 1, "the runner's first claim")
      const later = yield* tracker.enqueue(noop, { i: 1 }, { delay: "5 seconds" })
      const nap = yield* tracker.enqueue(sleeper, {})
      yield* waitFor(tracker, nap.job.id, (v) => v.status === "pending" && runs === 1)
      yield* TestClock.adjust("3 seconds")
      yield* yieldUntil(() => runs === 2, "the sleeper claimed again when its sleep ended")
      assert.strictEqual((yield* waitFor(tracker, nap.job.id, (v) => v.status === "completed")).status, "completed")
      assert.strictEqual((yield* tracker.get(later.job.id)).status, "pending")
      yield* TestClock.adjust("2 seconds")
      yield* yieldUntil(() => claims.filter((n) => n > 0).length >= 3, "the delayed job claimed when due")
      assert.strictEqual((yield* waitFor(tracker, later.job.id, (v) => v.status === "completed")).status, "completed")
    }))

  it.effect("a delayed job cancelled before its time is not announced when due; the other one is", () =>
    Effect.gen(function*() {
      const store = yield* MemoryStore.make
      const seen: Array<string> = []
      yield* Stream.runForEach(store.changes, (c) => Effect.sync(() => void (c.kind === "enqueued" && seen.push(c.id)))).pipe(
        Effect.forkScoped
      )
      yield* Effect.yieldNow
      const { tracker } = yield* setup([noop], { store, runners: 0 })
      const a = yield* tracker.enqueue(noop, { i: 1 }, { delay: "5 seconds" })
      const b = yield* tracker.enqueue(noop, { i: 2 }, { delay: "5 seconds" })
      yield* tracker.cancel(a.job.id)
      yield* yieldUntil(() => seen.length >= 2, "both enqueues announced")
      yield* TestClock.adjust("5 seconds")
      yield* yieldUntil(() => seen.length >= 3, "b announced when due")
      for (let i = 0; i < 100; i++) yield* Effect.yieldNow
      assert.deepStrictEqual(seen, [a.job.id, b.job.id, b.job.id])
    }))

  it.effect("jobs nobody announced are claimed at the poll interval, however many jobs finish meanwhile", () =>
    Effect.gen(function*() {
      const { store: counted, claims } = yield* counting
      // a store whose announcements are lost: only the poll finds its jobs
      const store: JobStoreShape = { ...counted, changes: Stream.never }
      const { tracker } = yield* setup([noop], { store, pollInterval: "1 minute", concurrency: 10 })
      yield* yieldUntil(() => claims.length >= 1, "the runner's first claim")
      const { job } = yield* tracker.enqueue(noop, { i: 1 })
      yield* TestClock.adjust("59 seconds")
      assert.strictEqual((yield* tracker.get(job.id)).status, "pending")
      yield* TestClock.adjust("1 second")
      yield* yieldUntil(() => claims.length >= 2, "the claim at the poll interval")
      yield* waitFor(tracker, job.id, (v) => v.status === "completed")
      assert.deepStrictEqual(claims, [0, 1])
    }))
})
