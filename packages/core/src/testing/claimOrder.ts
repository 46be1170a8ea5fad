/** Conformance, rule 4: claim order and claimability. */
import { assert } from "@effect/vitest"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import { claimOne, claimReq, lease, newJob, rule } from "./harness.js"
import type { RuleModule } from "./harness.js"

export const claimOrderRules: RuleModule = (_ctx) =>
  rule("rule 4: claim order and claimability", (test) => {
    test("priority desc, then runAt asc, then id asc", (store) =>
      Effect.gen(function*() {
        yield* TestClock.setTime(10_000)
        const a = newJob({ priority: 0, runAt: new Date(1_000) })
        const b = newJob({ priority: 5, runAt: new Date(9_000) })
        const c = newJob({ priority: 0, runAt: new Date(500) })
        const d = newJob({ priority: 0, runAt: new Date(1_000) })
        yield* store.enqueueMany([d, a, c, b])
        const claimed = yield* store.claim(claimReq(10))
        assert.deepStrictEqual(claimed.map((j) => j.id), [b.id, c.id, a.id < d.id ? a.id : d.id, a.id < d.id ? d.id : a.id])
      }))

    test("future runAt is not claimable until its time", (store) =>
      Effect.gen(function*() {
        yield* TestClock.setTime(1_000)
        const later = newJob({ runAt: new Date(61_000) })
        yield* store.enqueue(later)
        assert.strictEqual((yield* store.claim(claimReq(10))).length, 0)
        yield* TestClock.adjust("59 seconds")
        assert.strictEqual((yield* store.claim(claimReq(10))).length, 0)
        yield* TestClock.adjust("1 second")
        assert.deepStrictEqual((yield* store.claim(claimReq(10))).map((j) => j.id), [later.id])
      }))

    test("cancelled, completed and failed jobs are never claimed; other queues and types are not", (store) =>
      Effect.gen(function*() {
        const cancelled = yield* store.enqueue(newJob())
        yield* store.cancel(cancelled.job.id)
        yield* store.enqueue(newJob({ queue: "other" }))
        yield* store.enqueue(newJob({ type: "unknown-here" }))
        const done = yield* store.enqueue(newJob())
        const claimed = yield* claimOne(store)
        assert.strictEqual(claimed.id, done.job.id)
        yield* store.complete(lease(claimed), null)
        const failing = yield* store.enqueue(newJob())
        const f = yield* claimOne(store)
        assert.strictEqual(f.id, failing.job.id)
        yield* store.fail({ ...lease(f), message: "boom", retryAt: null })
        assert.strictEqual((yield* store.claim(claimReq(10))).length, 0)
        const other = yield* store.claim({ ...claimReq(10), queues: ["other"] })
        assert.strictEqual(other.length, 1)
      }))

    test("a retrying job is not claimable before its retry time", (store) =>
      Effect.gen(function*() {
        yield* TestClock.setTime(1_000)
        const { job } = yield* store.enqueue(newJob())
        const first = yield* claimOne(store)
        yield* store.fail({ ...lease(first), message: "boom", retryAt: new Date(61_000) })
        assert.strictEqual((yield* store.claim(claimReq(10))).length, 0)
        yield* TestClock.adjust("59 seconds")
        assert.strictEqual((yield* store.claim(claimReq(10))).length, 0)
        assert.strictEqual((yield* store.get(job.id)).status, "retrying")
        yield* TestClock.adjust("1 second")
        const [again] = yield* store.claim(claimReq(10))
        assert.strictEqual(again?.id, job.id)
        assert.strictEqual(again?.attempts, 2)
      }))
  })
