import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Schema, Stream } from "effect"
import { TestClock } from "effect/testing"
import { JobDefinition, MemoryStore } from "@jobtrack/core"
import type { JobStoreShape } from "@jobtrack/core"
import { setup } from "./helpers.js"

const Empty = Schema.Struct({})

/** A memory store that records each heartbeat's job id and time. */
const counting = Effect.gen(function*() {
  const inner = yield* MemoryStore.make
  const beats: Array<string> = []
  const store: JobStoreShape = {
    ...inner,
    heartbeat: (lease, leaseMs) => Effect.suspend(() => (beats.push(lease.id), inner.heartbeat(lease, leaseMs)))
  }
  return { store, beats }
})

describe("Runner lease keeper (one fiber for all held jobs)", () => {
  it.effect("heartbeats each held job once per period from its start, keeps long jobs, and stops at their end", () =>
    Effect.gen(function*() {
      const { store, beats } = yield* counting
      const release = yield* Deferred.make<void>()
      const def = JobDefinition.make({ type: "long", payload: Empty, handler: () => Deferred.await(release) })
      const { tracker } = yield* setup([def], { store, lease: "30 seconds", heartbeat: "10 seconds" })
      // runs before the runner's shutdown (finalizers run in reverse), which would wait for the job
      yield* Effect.addFinalizer(() => Deferred.succeed(release, undefined))
      const a = (yield* tracker.enqueue(def, {})).job
      yield* TestClock.adjust("5 seconds")
      const b = (yield* tracker.enqueue(def, {})).job
      yield* TestClock.adjust("1 second") // b claimed at ~5 s
      assert.deepStrictEqual(beats, [])
      yield* TestClock.adjust("5 seconds") // 11 s: a's first beat (due at 10 s)
      assert.deepStrictEqual(beats, [a.id])
      yield* TestClock.adjust("5 seconds") // 16 s: b's first beat (due at ~15 s)
      assert.deepStrictEqual(beats, [a.id, b.id])
      yield* TestClock.adjust("84 seconds") // 100 s, far past the 30 s lease
      // a: at 10, 20, … 100 s; b (claimed at 5 s): at 15, 25, … 95 s
      assert.strictEqual(beats.filter((id) => id === a.id).length, 10)
      assert.strictEqual(beats.filter((id) => id === b.id).length, 9)
      // the leases held: no recovery, no second attempt
      for (const id of [a.id, b.id]) {
        const job = yield* tracker.get(id)
        assert.strictEqual(job.status, "processing")
        assert.strictEqual(job.attempts, 1)
      }
      yield* Deferred.succeed(release, undefined)
      yield* TestClock.adjust("1 second")
      assert.strictEqual((yield* tracker.get(a.id)).status, "completed")
      const after = beats.length
      yield* TestClock.adjust("1 minute")
      assert.strictEqual(beats.length, after) // no heartbeat for finished jobs
    }))

  it.effect("a job that ends before its first period is never heartbeaten", () =>
    Effect.gen(function*() {
      const { store, beats } = yield* counting
      const def = JobDefinition.make({ type: "quick", payload: Empty, handler: () => Effect.sleep("2 seconds") })
      const { tracker } = yield* setup([def], { store, heartbeat: "10 seconds" })
      const jobs = yield* tracker.enqueueMany(def, [{ payload: {} }, { payload: {} }, { payload: {} }])
      yield* TestClock.adjust("1 minute")
      for (const { job } of jobs) assert.strictEqual((yield* tracker.get(job.id)).status, "completed")
      assert.deepStrictEqual(beats, [])
    }))

  it.effect("a cancel request learned by a heartbeat stops the job", () =>
    Effect.gen(function*() {
      const inner = yield* MemoryStore.make
      // cancel requests are not announced here: only the heartbeat can tell
      const store: JobStoreShape = {
        ...inner,
        changes: Stream.never
      }
      const def = JobDefinition.make({ type: "stoppable", payload: Empty, handler: () => Effect.never })
      const { tracker } = yield* setup([def], { store, heartbeat: "10 seconds" })
      const { job } = yield* tracker.enqueue(def, {})
      yield* TestClock.adjust("1 second")
      yield* tracker.cancel(job.id)
      assert.strictEqual((yield* tracker.get(job.id)).status, "processing")
      yield* TestClock.adjust("10 seconds")
      assert.strictEqual((yield* tracker.get(job.id)).status, "cancelled")
    }))
})
