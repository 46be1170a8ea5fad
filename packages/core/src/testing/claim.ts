/** Conformance, rule 3: claim is atomic. */
import { assert } from "@effect/vitest"
import { Effect } from "effect"
import { claimReq, newJob, rule } from "./harness.js"
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
  })
