/** Conformance, rule 5: group limits hold under concurrent claimers. */
import { assert } from "@effect/vitest"
import { Effect } from "effect"
import { claimReq, lease, newJob, rule } from "./harness.js"
import type { RuleModule } from "./harness.js"

export const groupRules: RuleModule = ({ N }) =>
  rule("rule 5: group limits hold under concurrent claimers", (test) => {
    test(`limit 2 with ${N} concurrent claimers: never 3 processing`, (store) =>
      Effect.gen(function*() {
        yield* store.enqueueMany(Array.from({ length: 30 }, () => newJob({ groupKey: "ann", groupLimit: 2 })))
        yield* store.enqueueMany(Array.from({ length: 3 }, () => newJob({ groupKey: "bob", groupLimit: 1 })))
        yield* store.enqueueMany(Array.from({ length: 4 }, () => newJob()))
        const batches = yield* Effect.all(
          Array.from({ length: N }, (_, i) => store.claim(claimReq(3, `w${i}`))),
          { concurrency: "unbounded" }
        )
        // The burst itself claims every claimable job: a claim that returns fewer jobs than
        // asked leaves nothing claimable behind (a job it passed over was held by a claimer
        // that claims it), and the claimers (3 or more) ask for more than the 7 claimable.
        const claimed = batches.flat()
        assert.strictEqual(claimed.filter((j) => j.groupKey === "ann").length, 2)
        assert.strictEqual(claimed.filter((j) => j.groupKey === "bob").length, 1)
        assert.strictEqual(claimed.filter((j) => j.groupKey === null).length, 4)
        const annRunning = yield* store.list({ status: ["processing"], limit: 500 })
        assert.strictEqual(annRunning.items.filter((j) => j.groupKey === "ann").length, 2)
        // finishing one frees exactly one place
        const one = claimed.find((j) => j.groupKey === "ann")!
        yield* store.complete(lease(one), null)
        const next = yield* Effect.all(
          Array.from({ length: N }, (_, i) => store.claim(claimReq(3, `x${i}`))),
          { concurrency: "unbounded" }
        )
        assert.strictEqual(next.flat().length, 1)
        assert.strictEqual(next.flat()[0]!.groupKey, "ann")
      }))
    test("a group key without a limit is an unlimited group: its jobs are claimed like ungrouped ones", (store) =>
      Effect.gen(function*() {
        yield* store.enqueueMany(Array.from({ length: 4 }, () => newJob({ groupKey: "open", groupLimit: null })))
        const first = yield* store.claim(claimReq(3))
        assert.deepStrictEqual(first.map((j) => j.groupKey), ["open", "open", "open"])
        const second = yield* store.claim(claimReq(3, "w2"))
        assert.strictEqual(second.length, 1, "the fourth job of the unlimited group was not claimed")
      }))
  })
