/** Conformance, rule 10: what list and stats filters select, and their bounds. */
import { assert } from "@effect/vitest"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import type { JobStoreShape } from "../JobStore.js"
import { claimReq, lease, newJob, rule } from "./harness.js"
import type { RuleModule } from "./harness.js"

/** Claim the one claimable job of `type`, let `ms` pass, then complete or fail it. */
const settleOne = (store: JobStoreShape, type: string, ms: number, outcome: "complete" | "fail") =>
  Effect.gen(function*() {
    const [held] = yield* store.claim({ ...claimReq(1), types: [type] })
    assert.isDefined(held, `expected a claimable ${type} job`)
    yield* TestClock.adjust(ms)
    if (outcome === "complete") yield* store.complete(lease(held!), null)
    else yield* store.fail({ ...lease(held!), message: "x", retryAt: null })
  })

export const filterRules: RuleModule = (_ctx) =>
  rule("rule 10: list and stats filters", (test) => {
    test("list: owner null selects jobs without an owner; queue selects its queue", (store) =>
      Effect.gen(function*() {
        const ownerless = [newJob(), newJob({ queue: "q2" })]
        const anns = [newJob({ owner: "ann" }), newJob({ owner: "ann", queue: "q2" })]
        yield* store.enqueueMany([...ownerless, ...anns])
        const ids = (page: { readonly items: ReadonlyArray<{ readonly id: string }> }) => page.items.map((j) => j.id)
        assert.deepStrictEqual(ids(yield* store.list({ owner: null })), ownerless.map((j) => j.id).reverse())
        assert.deepStrictEqual(ids(yield* store.list({ queue: "q2" })), [anns[1]!.id, ownerless[1]!.id])
        assert.deepStrictEqual(ids(yield* store.list({ queue: "q2", owner: null })), [ownerless[1]!.id])
        assert.deepStrictEqual(ids(yield* store.list({ queue: "nowhere" })), [])
      }))

    test("list: limit defaults to 50 and is held within 1–500", (store) =>
      Effect.gen(function*() {
        yield* store.enqueueMany(Array.from({ length: 501 }, () => newJob()))
        const page = yield* store.list({})
        assert.strictEqual(page.items.length, 50)
        assert.isNotNull(page.nextCursor)
        assert.strictEqual((yield* store.list({ limit: 1_000 })).items.length, 500)
        assert.strictEqual((yield* store.list({ limit: 0 })).items.length, 1)
        assert.strictEqual((yield* store.list({ limit: -3 })).items.length, 1)
        assert.strictEqual((yield* store.list({ limit: 7 })).items.length, 7)
      }))

    test("stats: type and owner null filter; success rate and durations per type", (store) =>
      Effect.gen(function*() {
        yield* store.enqueueMany(Array.from({ length: 3 }, () => newJob()))
        yield* settleOne(store, "test", 1_000, "complete")
        yield* settleOne(store, "test", 3_000, "complete")
        yield* settleOne(store, "test", 0, "fail")
        yield* store.enqueueMany(Array.from({ length: 2 }, () => newJob({ type: "other", owner: "ann" })))
        yield* settleOne(store, "other", 500, "complete")

        const all = yield* store.stats({})
        const [other, test] = all.byType
        assert.deepStrictEqual(all.byType.map((t) => t.type), ["other", "test"])
        assert.closeTo(test!.successRate!, 2 / 3, 1e-9)
        assert.deepStrictEqual(test!.durations, { count: 2, meanMs: 2_000, p50Ms: 1_000, p95Ms: 3_000 })
        assert.strictEqual(other!.successRate, 1)
        assert.deepStrictEqual(other!.durations, { count: 1, meanMs: 500, p50Ms: 500, p95Ms: 500 })
        assert.deepStrictEqual(other!.counts, { pending: 1, processing: 0, retrying: 0, completed: 1, failed: 0, cancelled: 0 })

        const byType = yield* store.stats({ type: "other" })
        assert.deepStrictEqual(byType.counts, other!.counts)
        assert.deepStrictEqual(byType.byType.map((t) => t.type), ["other"])
        assert.strictEqual(byType.durations.meanMs, 500)

        const ownerless = yield* store.stats({ owner: null })
        assert.deepStrictEqual(ownerless.counts, { pending: 0, processing: 0, retrying: 0, completed: 2, failed: 1, cancelled: 0 })
        assert.deepStrictEqual(ownerless.byType.map((t) => t.type), ["test"])
        assert.closeTo(ownerless.successRate!, 2 / 3, 1e-9)

        const none = yield* store.stats({ type: "unknown" })
        assert.strictEqual(none.durations.count, 0)
        assert.isNull(none.durations.meanMs)
        assert.isNull(none.successRate)
        assert.deepStrictEqual(none.byType, [])
      }))

    test("prune: completed, failed and cancelled jobs finished before the cut-off go; at the cut-off they stay", (store) =>
      Effect.gen(function*() {
        yield* TestClock.setTime(1_000)
        const early = [newJob(), newJob(), newJob()]
        yield* store.enqueueMany(early)
        yield* settleOne(store, "test", 0, "complete")
        yield* settleOne(store, "test", 0, "fail")
        yield* store.cancel(early[2]!.id)
        yield* TestClock.setTime(2_000)
        const atCut = [newJob(), newJob(), newJob()]
        yield* store.enqueueMany(atCut)
        yield* settleOne(store, "test", 0, "complete")
        yield* settleOne(store, "test", 0, "fail")
        yield* store.cancel(atCut[2]!.id)
        assert.strictEqual(yield* store.prune(new Date(2_000)), 3)
        assert.sameMembers((yield* store.list({})).items.map((j) => j.id), atCut.map((j) => j.id))
        assert.strictEqual(yield* store.prune(new Date(2_001)), 3)
        assert.strictEqual((yield* store.list({})).items.length, 0)
      }))
  })
