import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { TestClock } from "effect/testing"
import { JobDefinition, MemoryStore, RetryPolicy } from "@jobtrack/core"
import { setup } from "./helpers.js"

const work = JobDefinition.make({
  type: "work",
  payload: Schema.Struct({}),
  retry: RetryPolicy.fixed("1 second", 3),
  handler: () => Effect.void
})

describe("lease recovery", () => {
  it.effect("a dead holder's job is recovered at most one poll interval after its lease runs out, whatever wakes the claim loop", () =>
    Effect.gen(function*() {
      const store = yield* MemoryStore.make
      const { tracker } = yield* setup([work], { store, runners: 0 })
      const { job } = yield* tracker.enqueue(work, {})
      // another runner claims it at 0 s and dies: its lease runs out at 30.05 s, just after a check
      // (claimed before the live runner starts, which would take it at once: a due job is announced)
      const claimed = yield* store.claim({ queues: ["default"], types: ["work"], workerId: "dead", limit: 1, leaseMs: 30_050 })
      assert.deepStrictEqual(claimed.map((j) => j.id), [job.id])
      // a live runner: 30 s leases, polling every second (recovery checks at 0 s, 1 s, 2 s…)
      yield* setup([work], { store, lease: "30 seconds", pollInterval: "1 second" })
      yield* TestClock.adjust("30 seconds")
      assert.strictEqual((yield* tracker.get(job.id)).lockedBy, "dead")
      // something wakes the claim loop just before the next check (an enqueue, a notification)
      yield* TestClock.adjust("900 millis")
      yield* tracker.enqueue(work, {}, { delay: "1 hour" })
      // at lease + one poll interval the job has been recovered (and run again by the live runner)
      yield* TestClock.adjust("100 millis")
      const after = yield* tracker.get(job.id)
      assert.strictEqual(after.errors[0]?.message, "worker lost: lease held by dead expired")
      const recoveredAt = after.errors[0]!.at.getTime()
      assert.isAtLeast(recoveredAt, 30_050)
      assert.isAtMost(recoveredAt, 31_050)
      assert.strictEqual(after.status, "completed")
    }))
})
