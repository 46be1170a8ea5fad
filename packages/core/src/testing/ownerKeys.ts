/**
 * Conformance, rule 2: key dedupe is per owner. An enqueue dedupes only onto
 * a live job of the same type, owner and key, so it can never answer with
 * another owner's job (its id would reveal that the job exists). Jobs
 * without an owner count as one owner.
 */
import { assert } from "@effect/vitest"
import { Effect } from "effect"
import { newJob, rule } from "./harness.js"
import type { RuleModule } from "./harness.js"

export const ownerKeyRules: RuleModule = ({ N }) =>
  rule("rule 2: key dedupe is per owner", (test) => {
    test("the same key under two owners makes two jobs; each owner dedupes onto its own", (store) =>
      Effect.gen(function*() {
        const ann = yield* store.enqueue(newJob({ owner: "ann", key: "shared.pdf" }))
        const bob = yield* store.enqueue(newJob({ owner: "bob", key: "shared.pdf" }))
        const nobody = yield* store.enqueue(newJob({ owner: null, key: "shared.pdf" }))
        assert.deepStrictEqual([ann.created, bob.created, nobody.created], [true, true, true])
        assert.strictEqual(new Set([ann.job.id, bob.job.id, nobody.job.id]).size, 3)
        for (const [owner, first] of [["ann", ann], ["bob", bob], [null, nobody]] as const) {
          const again = yield* store.enqueue(newJob({ owner, key: "shared.pdf" }))
          assert.isFalse(again.created)
          assert.strictEqual(again.job.id, first.job.id)
          assert.strictEqual(again.job.owner, owner)
        }
        const batch = yield* store.enqueueMany([
          newJob({ owner: "cat", key: "b" }),
          newJob({ owner: "dan", key: "b" }),
          newJob({ owner: "cat", key: "b" })
        ])
        assert.deepStrictEqual(batch.map((r) => [r.created, r.job.owner]), [[true, "cat"], [true, "dan"], [false, "cat"]])
        assert.strictEqual(batch[2]!.job.id, batch[0]!.job.id)
      }))

    test(`${N} concurrent enqueues of one key by two owners: one job each, never the other's`, (store) =>
      Effect.gen(function*() {
        const owners = Array.from({ length: N }, (_, i) => (i % 2 === 0 ? "ann" : "bob"))
        const results = yield* Effect.all(
          owners.map((owner) => store.enqueue(newJob({ owner, key: "same" }))),
          { concurrency: "unbounded" }
        )
        results.forEach((r, i) => assert.strictEqual(r.job.owner, owners[i]))
        assert.strictEqual(results.filter((r) => r.created).length, 2)
        assert.strictEqual(new Set(results.map((r) => r.job.id)).size, 2)
      }))

    test("a retry is not refused because another owner has a live job with the key", (store) =>
      Effect.gen(function*() {
        const mine = yield* store.enqueue(newJob({ owner: "ann", key: "k" }))
        yield* store.cancel(mine.job.id)
        const theirs = yield* store.enqueue(newJob({ owner: "bob", key: "k" }))
        assert.isTrue(theirs.created)
        assert.strictEqual((yield* store.retry(mine.job.id)).status, "pending")
        assert.strictEqual((yield* store.get(theirs.job.id)).status, "pending")
      }))
  })
