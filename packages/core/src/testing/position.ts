/** Conformance, rule 8: queue position, exact for the first 1,000 places and capped beyond. */
import { assert } from "@effect/vitest"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import type { JobStoreShape } from "../JobStore.js"
import * as JobId from "../JobId.js"
import * as QueuePosition from "../QueuePosition.js"
import { claimOne, claimReq, newJob, rule, tagOf } from "./harness.js"
import type { RuleModule } from "./harness.js"

/** The position as a number, or "more than n" when capped; null unless pending. */
const placeOf = (store: JobStoreShape) => (job: { readonly id: string }) =>
  Effect.map(store.queuePosition(job.id), (p) => p === null ? null : p.capped ? `more than ${p.position - 1}` : p.position)

const cap = QueuePosition.cap

export const positionRules: RuleModule = (_ctx) =>
  rule("rule 8: queue position", (test) => {
    test("1 + claimable jobs ahead in the same queue; null unless pending", (store) =>
      Effect.gen(function*() {
        const position = placeOf(store)
        yield* TestClock.setTime(1_000)
        const jobs = Array.from({ length: 5 }, () => newJob())
        yield* store.enqueueMany(jobs)
        const urgent = newJob({ priority: 9 })
        const later = newJob({ runAt: new Date(100_000) })
        const elsewhere = newJob({ queue: "other" })
        yield* store.enqueueMany([urgent, later, elsewhere])
        const positions = yield* Effect.forEach(jobs, (j) => position(j))
        assert.deepStrictEqual(positions, [2, 3, 4, 5, 6])
        assert.strictEqual(yield* position(urgent), 1)
        assert.strictEqual(yield* position(later), 7)
        assert.strictEqual(yield* position(elsewhere), 1)
        const [first] = yield* store.claim(claimReq(1))
        assert.strictEqual(first!.id, urgent.id)
        assert.isNull(yield* position(urgent))
        assert.deepStrictEqual(yield* Effect.forEach(jobs, (j) => position(j)), [1, 2, 3, 4, 5])
        yield* store.cancel(jobs[0]!.id)
        assert.isNull(yield* position(jobs[0]!))
        assert.strictEqual(yield* position(jobs[1]!), 1)
        assert.strictEqual(yield* tagOf(store.queuePosition(JobId.make())), "JobNotFound")
        // view: the record and its position together
        const v = yield* store.view(jobs[1]!.id)
        assert.strictEqual(v.queuePosition, 1)
        assert.isFalse(v.queuePositionCapped)
        // (and its steps: none here; see the step rules)
        assert.deepStrictEqual(v.steps, [])
        assert.deepStrictEqual({ ...v, queuePosition: undefined, queuePositionCapped: undefined, steps: undefined }, {
          ...(yield* store.get(jobs[1]!.id)),
          queuePosition: undefined,
          queuePositionCapped: undefined,
          steps: undefined
        })
        assert.isNull((yield* store.view(urgent.id)).queuePosition)
        assert.isFalse((yield* store.view(urgent.id)).queuePositionCapped)
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
        const position = placeOf(store)
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

    test(`exact for the first ${cap} places, capped beyond ("more than ${cap}"), in view too`, (store) =>
      Effect.gen(function*() {
        const position = placeOf(store)
        yield* TestClock.setTime(10_000) // every job below is due
        const jobs = Array.from({ length: cap + 3 }, (_, i) => newJob({ runAt: new Date(i), payload: { i } }))
        yield* store.enqueueMany(jobs)
        assert.strictEqual(yield* position(jobs[0]!), 1)
        assert.strictEqual(yield* position(jobs[cap - 1]!), cap, "the last exact place")
        assert.strictEqual(yield* position(jobs[cap]!), `more than ${cap}`)
        assert.strictEqual(yield* position(jobs[cap + 2]!), `more than ${cap}`)
        const capped = yield* store.view(jobs[cap + 2]!.id)
        assert.deepStrictEqual([capped.queuePosition, capped.queuePositionCapped], [cap + 1, true])
        const exact = yield* store.view(jobs[cap - 1]!.id)
        assert.deepStrictEqual([exact.queuePosition, exact.queuePositionCapped], [cap, false])
        // a higher priority job goes ahead of all of them; claiming it and two more moves the rest up
        const urgent = newJob({ priority: 5 })
        yield* store.enqueue(urgent)
        assert.strictEqual(yield* position(jobs[cap - 1]!), `more than ${cap}`)
        assert.strictEqual(yield* position(urgent), 1)
        assert.strictEqual((yield* store.claim(claimReq(3))).length, 3)
        assert.strictEqual(yield* position(jobs[cap]!), cap - 1)
        assert.strictEqual(yield* position(jobs[cap + 1]!), cap)
        assert.strictEqual(yield* position(jobs[cap + 2]!), `more than ${cap}`)
      }))

    test(`with groups: jobs of a group without room do not use up the ${cap} places`, (store) =>
      Effect.gen(function*() {
        const position = placeOf(store)
        yield* TestClock.setTime(10_000) // every job below is due
        const bob = (i: number) => newJob({ groupKey: "bob", groupLimit: 1, runAt: new Date(i), payload: { i } })
        yield* store.enqueue(bob(0))
        yield* claimOne(store) // bob's only place is taken: his queued jobs wait
        const bobs = Array.from({ length: cap + 10 }, (_, i) => bob(i + 1))
        const plain = Array.from({ length: 3 }, (_, i) => newJob({ runAt: new Date(cap + 100 + i) }))
        const ann = newJob({ groupKey: "ann", groupLimit: 2, runAt: new Date(cap + 200) })
        yield* store.enqueueMany([...bobs, ...plain, ann])
        // behind more than 1,000 of bob's waiting jobs, the others still have exact places
        assert.deepStrictEqual(yield* Effect.forEach([...plain, ann], position), [1, 2, 3, 4])
        // bob's own jobs ahead always count: his last job is past the cap
        assert.strictEqual(yield* position(bobs[0]!), 1)
        assert.strictEqual(yield* position(bobs[cap - 1]!), cap)
        assert.strictEqual(yield* position(bobs[cap + 9]!), `more than ${cap}`)
        const v = yield* store.view(ann.id)
        assert.deepStrictEqual([v.queuePosition, v.queuePositionCapped], [4, false])
      }))
  })
