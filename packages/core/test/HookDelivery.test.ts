import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Schema } from "effect"
import { TestClock } from "effect/testing"
import { HookDelivery, JobDefinition, JobStore, MemoryStore, RetryPolicy } from "@jobtrack/core"
import type { Hooks, JobView } from "@jobtrack/core"
import { setup } from "./helpers.js"

const Empty = Schema.Struct({})
const ok = JobDefinition.make({ type: "ok", payload: Empty, handler: () => Effect.succeed(1) })
const bad = JobDefinition.make({ type: "bad", payload: Empty, retry: RetryPolicy.none, handler: () => Effect.fail("no") })
/** 1 s, 2 s, 4 s… without jitter, so the times are exact. */
const backoff = (maxRetries: number) => RetryPolicy.exponential({ initial: "1 second", factor: 2, maxRetries })

describe("HookDelivery", () => {
  it.effect("a failing hook is retried on the policy's schedule (0, 1 s, 3 s, 7 s), then the delivery is gone", () =>
    Effect.gen(function*() {
      const calls: Array<[number, string, number]> = []
      const hooks: Hooks.Hooks = {
        onCompleted: (job, delivery) =>
          Effect.gen(function*() {
            calls.push([yield* Clock.currentTimeMillis, delivery.id, delivery.attempt])
            if (delivery.attempt < 4) return yield* Effect.fail(new Error(`webhook answered 503 (${delivery.attempt})`))
            assert.strictEqual(job.status, "completed")
          })
      }
      const { store, tracker } = yield* setup([ok], { hooks, hookDelivery: { retry: backoff(5) } })
      const { job } = yield* tracker.enqueue(ok, {})
      yield* TestClock.adjust("2 seconds")
      const [pending] = yield* store.listDeliveries({ jobId: job.id })
      assert.strictEqual(pending!.lastError, "webhook answered 503 (2)")
      yield* TestClock.adjust("30 seconds")
      const t0 = calls[0]![0]
      assert.deepStrictEqual(calls.map(([t]) => t - t0), [0, 1_000, 3_000, 7_000])
      assert.deepStrictEqual(calls.map(([, , attempt]) => attempt), [1, 2, 3, 4])
      assert.strictEqual(new Set(calls.map(([, id]) => id)).size, 1, "the delivery id changed between attempts")
      assert.deepStrictEqual(yield* store.listDeliveries({ jobId: job.id }), [])
    }))

  it.effect("after the last retry the delivery is dead, with its error, and the hook is not called again", () =>
    Effect.gen(function*() {
      const calls: Array<number> = []
      const hooks: Hooks.Hooks = {
        onFailed: () =>
          Effect.flatMap(Clock.currentTimeMillis, (t) => {
            calls.push(t)
            return Effect.die(new Error("mail server down"))
          })
      }
      const { store, tracker } = yield* setup([bad], { hooks, hookDelivery: { retry: backoff(2) } })
      const { job } = yield* tracker.enqueue(bad, {})
      yield* TestClock.adjust("1 hour")
      assert.strictEqual(calls.length, 3)
      assert.deepStrictEqual(calls.map((t) => t - calls[0]!), [0, 1_000, 3_000])
      const [dead] = yield* store.listDeliveries({ jobId: job.id })
      assert.strictEqual(dead!.status, "dead")
      assert.strictEqual(dead!.attempts, 3)
      assert.strictEqual(dead!.lastError, "mail server down")
      assert.strictEqual((yield* tracker.get(job.id)).status, "failed", "a hook changed the job")
    }))

  it.effect("a hook only another process has: the delivery waits, unclaimed here, and a process that has it delivers it later", () =>
    Effect.gen(function*() {
      const seen: Array<string> = []
      const onlyCompleted: Hooks.Hooks = { onCompleted: () => Effect.void }
      const store = yield* MemoryStore.make
      // the other process subscribed when it started (it is down now)
      yield* store.subscribeHooks({ types: ["bad"], events: ["failed"] })
      const { tracker } = yield* setup([bad], { store, hooks: onlyCompleted })
      const { job } = yield* tracker.enqueue(bad, {})
      yield* TestClock.adjust("10 minutes")
      const [waiting] = yield* store.listDeliveries({ jobId: job.id })
      assert.strictEqual(waiting!.event, "failed")
      assert.strictEqual(waiting!.status, "pending")
      assert.strictEqual(waiting!.attempts, 0, "a process without the hook claimed the delivery")

      yield* HookDelivery.make({
        types: ["bad"],
        hooks: { onFailed: (v: JobView) => Effect.sync(() => seen.push(`${v.id}:${v.status}`)) }
      }).pipe(Effect.provideService(JobStore, store))
      yield* TestClock.adjust("1 second")
      assert.deepStrictEqual(seen, [`${job.id}:failed`])
      assert.deepStrictEqual(yield* store.listDeliveries({ jobId: job.id }), [])
    }))

  it.effect("a delivery whose holders vanished as often as the policy allows is made dead without another call", () =>
    Effect.gen(function*() {
      const store = yield* MemoryStore.make
      // a process elsewhere has the failed hook (deliveries are recorded for subscribed events only)
      yield* store.subscribeHooks({ types: ["bad"], events: ["failed"] })
      const calls: Array<string> = []
      const { job } = yield* setup([bad], { store, hooks: { onCompleted: () => Effect.void } }).pipe(
        Effect.flatMap(({ tracker }) => tracker.enqueue(bad, {}))
      )
      yield* TestClock.adjust("1 second")
      // three processes claimed it and died during the call (leases of 1 s, never settled)
      for (let i = 0; i < 3; i++) {
        const claimed = yield* store.claimDeliveries({ types: ["bad"], events: ["failed"], workerId: `gone-${i}`, limit: 1, leaseMs: 1_000 })
        assert.strictEqual(claimed.length, 1)
        yield* TestClock.adjust("1 second")
      }
      yield* HookDelivery.make({
        types: ["bad"],
        hooks: { onFailed: (v) => Effect.sync(() => calls.push(v.id)) },
        retry: backoff(1)
      }).pipe(Effect.provideService(JobStore, store))
      yield* TestClock.adjust("1 second")
      assert.deepStrictEqual(calls, [], "a hook that keeps killing its process was called again")
      const [dead] = yield* store.listDeliveries({ jobId: job.id })
      assert.strictEqual(dead!.status, "dead")
      assert.match(dead!.lastError ?? "", /lost/)
    }))

  it.effect("a hook running past half the lease fails its attempt and is retried", () =>
    Effect.gen(function*() {
      let calls = 0
      const hooks: Hooks.Hooks = {
        onCompleted: () => (++calls === 1 ? Effect.never : Effect.void)
      }
      const { store, tracker } = yield* setup([ok], { hooks, hookDelivery: { lease: "10 seconds", retry: backoff(3) } })
      const { job } = yield* tracker.enqueue(ok, {})
      yield* TestClock.adjust("6 seconds")
      const [retrying] = yield* store.listDeliveries({ jobId: job.id })
      assert.strictEqual(retrying!.status, "pending")
      assert.match(retrying!.lastError ?? "", /timed out after 5000 ms/)
      yield* TestClock.adjust("2 seconds")
      assert.strictEqual(calls, 2)
      assert.deepStrictEqual(yield* store.listDeliveries({ jobId: job.id }), [])
    }))
})
