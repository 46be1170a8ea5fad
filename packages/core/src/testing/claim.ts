/** Conformance, rule 3: claim is atomic. */
import { assert } from "@effect/vitest"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import { claimReq, lease, newJob, rule } from "./harness.js"
import type { RuleModule } from "./harness.js"

export const atomicClaimRules: RuleModule = ({ N }) =>
  rule("rule 3: claim is atomic", (test) => {
    test(`${N} concurrent claimers never claim one job twice`, (store) =>
      Effect.gen(function*() {
        yield* store.enqueueMany(Array.from({ length: 60 }, () => newJob()))
        const batches = yield* Effect.all(
          Array.from({ length: N }, (_, i) => store.claim(claimReq(7, `w${i}`))),
          { concurrency: "unbounded" }
        )
        const ids = batches.flat().map((j) => j.id)
        assert.strictEqual(new Set(ids).size, ids.length, "a job was claimed twice")
        assert.strictEqual(ids.length, Math.min(60, 7 * N))
        for (const [i, batch] of batches.entries()) {
          for (const job of batch) {
            assert.strictEqual(job.status, "processing")
            assert.strictEqual(job.lockedBy, `w${i}`)
            assert.strictEqual(job.attempts, 1)
            assert.isAbove(job.token, 0)
          }
        }
      }))
  
    // a store may fill in what the claim wrote from its own arguments instead of reading it back
    // (adapter-kysely's Claim.ts): the record must still be the job as stored, every field of it
    test("a claimed record is the job as stored, a retried one's progress and errors included", (store) =>
      Effect.gen(function*() {
        yield* TestClock.setTime(5_000)
        const job = newJob({
          owner: "alice", key: "k1", groupKey: "g", groupLimit: 2, priority: 3, payload: { n: 7, s: "x" },
          traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        })
        yield* store.enqueue(job)
        const [first] = yield* store.claim(claimReq(1))
        assert.deepStrictEqual(first, yield* store.get(job.id))
        yield* store.progress(lease(first!), 40, "half way")
        yield* TestClock.adjust("1 second")
        yield* store.fail({ ...lease(first!), message: "boom", stack: "Error: boom\n    at here", retryAt: new Date(6_500) })
        yield* TestClock.adjust("1 second")
        const [second] = yield* store.claim(claimReq(1, "w2", 12_345))
        assert.strictEqual(second?.attempts, 2)
        assert.strictEqual(second?.errors.length, 1)
        assert.deepStrictEqual(second, yield* store.get(job.id))
      }))
  })
