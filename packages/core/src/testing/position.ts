/** Conformance, rule 8: queue position. */
import { assert } from "@effect/vitest"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import * as JobId from "../JobId.js"
import { claimOne, claimReq, newJob, rule, tagOf } from "./harness.js"
import type { RuleModule } from "./harness.js"

export const positionRules: RuleModule = (_ctx) =>
  rule("rule 8: queue position", (test) => {
    test("1 + claimable jobs ahead in the same queue; null unless pending", (store) =>
      Effect.gen(function*() {
        yield* TestClock.setTime(1_000)
        const jobs = Array.from({ length: 5 }, () => newJob())
        yield* store.enqueueMany(jobs)
        const urgent = newJob({ priority: 9 })
        const later = newJob({ runAt: new Date(100_000) })
        const elsewhere = newJob({ queue: "other" })
        yield* store.enqueueMany([urgent, later, elsewhere])
        const positions = yield* Effect.forEach(jobs, (j) => store.queuePosition(j.id))
        assert.deepStrictEqual(positions, [2, 3, 4, 5, 6])
        assert.strictEqual(yield* store.queuePosition(urgent.id), 1)
        assert.strictEqual(yield* store.queuePosition(later.id), 7)
        assert.strictEqual(yield* store.queuePosition(elsewhere.id), 1)
        const [first] = yield* store.claim(claimReq(1))
        assert.strictEqual(first!.id, urgent.id)
        assert.isNull(yield* store.queuePosition(urgent.id))
        assert.deepStrictEqual(yield* Effect.forEach(jobs, (j) => store.queuePosition(j.id)), [1, 2, 3, 4, 5])
        yield* store.cancel(jobs[0]!.id)
        assert.isNull(yield* store.queuePosition(jobs[0]!.id))
        assert.strictEqual(yield* store.queuePosition(jobs[1]!.id), 1)
        assert.strictEqual(yield* tagOf(store.queuePosition(JobId.make())), "JobNotFound")
        // view: the record and its position together
        const v = yield* store.view(jobs[1]!.id)
        assert.strictEqual(v.queuePosition, 1)
        // (and its steps: none here; see the step rules)
        assert.deepStrictEqual(v.steps, [])
        assert.deepStrictEqual({ ...v, queuePosition: undefined, steps: undefined }, {
          ...(yield* store.get(jobs[1]!.id)),
          queuePosition: undefined,
          steps: undefined
        })
        assert.isNull((yield* store.view(urgent.id)).queuePosition)
        assert.strictEqual(yield* tagOf(store.view(JobId.make())), "JobNotFound")
      }))

    test("with groups: another group's job ahead counts only while its group has room for it", (store) =>
      Effect.gen(function*() {
        const bob = (n: number) => newJob({ groupKey: "bob", groupLimit: 1, payload: { n } })
        const ann = (n: number) => newJob({ groupKey: "ann", groupLimit: 2, payload: { n } })
        yield* store.enqueue(bob(1))
        yield* claimOne(store) // bob's only place is taken
        const [bob2, bob3, ann1, ann2, ann3, plain] = [bob(2), bob(3), ann(1), ann(2), ann(3), newJob()]
        yield* store.enqueueMany([bob2, bob3, ann1, ann2, ann3, plain])
        const position = (j: { readonly id: string }) => store.queuePosition(j.id)
        // bob's jobs wait for a place; ann's third waits behind ann's first two
        assert.strictEqual(yield* position(plain), 3, "blocked jobs ahead do not count")
        assert.strictEqual(yield* position(ann3), 3)
        assert.strictEqual(yield* position(ann2), 2)
        assert.strictEqual(yield* position(bob2), 1, "a job waiting for its own group keeps its place")
        assert.strictEqual(yield* position(bob3), 2, "its own group's jobs ahead of it count")
        assert.strictEqual((yield* store.view(plain.id)).queuePosition, 3)
        // the position is the order a claim takes them in
        const claimed = yield* store.claim(claimReq(10, "w2"))
        assert.deepStrictEqual(claimed.map((j) => j.id), [ann1.id, ann2.id, plain.id])
      }))
  })
