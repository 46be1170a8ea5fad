/** Conformance, rule 2: keys across a job's whole life. */
import { assert } from "@effect/vitest"
import { Effect } from "effect"
import { claimOne, lease, newJob, rule } from "./harness.js"
import type { RuleModule } from "./harness.js"

export const keyRules: RuleModule = (_ctx) =>
  rule("rule 2: keys across the lifecycle", (test) => {
    test("dedupe holds against a processing and a retrying job", (store) =>
      Effect.gen(function*() {
        const { job } = yield* store.enqueue(newJob({ key: "k" }))
        const held = yield* claimOne(store)
        const whileProcessing = yield* store.enqueue(newJob({ key: "k" }))
        assert.isFalse(whileProcessing.created)
        assert.strictEqual(whileProcessing.job.id, job.id)
        assert.strictEqual(whileProcessing.job.status, "processing")
        yield* store.fail({ ...lease(held), message: "boom", retryAt: new Date(60_000) })
        const whileRetrying = yield* store.enqueue(newJob({ key: "k" }))
        assert.isFalse(whileRetrying.created)
        assert.strictEqual(whileRetrying.job.id, job.id)
        assert.strictEqual(whileRetrying.job.status, "retrying")
        assert.strictEqual((yield* store.list({ key: "k" })).items.length, 1)
      }))

    test("retry of a terminal job is refused while another live job has its key", (store) =>
      Effect.gen(function*() {
        const first = yield* store.enqueue(newJob({ key: "k" }))
        yield* store.cancel(first.job.id)
        const second = yield* store.enqueue(newJob({ key: "k" }))
        assert.isTrue(second.created)
        const err = yield* Effect.flip(store.retry(first.job.id))
        assert.strictEqual(err._tag, "InvalidTransition")
        if (err._tag === "InvalidTransition") assert.strictEqual(err.status, "cancelled")
        assert.strictEqual((yield* store.get(first.job.id)).status, "cancelled")
        assert.strictEqual((yield* store.list({ key: "k", status: ["pending"] })).items.length, 1)
        // once the key is free again, the retry goes through
        yield* store.cancel(second.job.id)
        assert.strictEqual((yield* store.retry(first.job.id)).status, "pending")
      }))

    test("findByKey returns the newest job of the key, also when it is terminal", (store) =>
      Effect.gen(function*() {
        const first = yield* store.enqueue(newJob({ key: "k" }))
        yield* store.cancel(first.job.id)
        const second = yield* store.enqueue(newJob({ key: "k" }))
        const held = yield* claimOne(store)
        assert.strictEqual(held.id, second.job.id)
        yield* store.complete(lease(held), { n: 2 })
        const found = yield* store.findByKey("test", "k")
        assert.strictEqual(found.id, second.job.id)
        assert.strictEqual(found.status, "completed")
        assert.deepStrictEqual(found.result, { n: 2 })
      }))
  })
