/** Conformance, rule 2: one non-terminal job per (type, key). */
import { assert } from "@effect/vitest"
import { Effect } from "effect"
import { newJob, rule, tagOf } from "./harness.js"
import type { RuleModule } from "./harness.js"

export const dedupeRules: RuleModule = ({ N }) =>
  rule("rule 2: one non-terminal job per (type, key)", (test) => {
    test("a second enqueue with the same key returns the first job", (store) =>
      Effect.gen(function*() {
        const first = yield* store.enqueue(newJob({ key: "file.pdf" }))
        const again = yield* store.enqueue(newJob({ key: "file.pdf" }))
        assert.isFalse(again.created)
        assert.strictEqual(again.job.id, first.job.id)
        const otherType = yield* store.enqueue(newJob({ key: "file.pdf", type: "other" }))
        assert.isTrue(otherType.created)
      }))

    test("a terminal job does not block a new one with its key", (store) =>
      Effect.gen(function*() {
        const first = yield* store.enqueue(newJob({ key: "k" }))
        yield* store.cancel(first.job.id)
        const second = yield* store.enqueue(newJob({ key: "k" }))
        assert.isTrue(second.created)
        assert.notStrictEqual(second.job.id, first.job.id)
        assert.strictEqual((yield* store.findByKey("test", "k")).id, second.job.id)
        assert.strictEqual(yield* tagOf(store.findByKey("test", "nope")), "JobNotFound")
      }))

    test(`${N} concurrent enqueues with one key create exactly one job`, (store) =>
      Effect.gen(function*() {
        const results = yield* Effect.all(
          Array.from({ length: N }, () => store.enqueue(newJob({ key: "same" }))),
          { concurrency: "unbounded" }
        )
        assert.strictEqual(results.filter((r) => r.created).length, 1)
        assert.strictEqual(new Set(results.map((r) => r.job.id)).size, 1)
        const batch = yield* store.enqueueMany([newJob({ key: "b" }), newJob({ key: "b" })])
        assert.deepStrictEqual(batch.map((r) => r.created), [true, false])
        assert.strictEqual(batch[1]!.job.id, batch[0]!.job.id)
        assert.strictEqual((yield* store.list({ key: "same" })).items.length, 1)
      }))
  })
