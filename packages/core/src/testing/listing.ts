/** Conformance, rule 10: list, stats, prune. */
import { assert } from "@effect/vitest"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import { claimOne, lease, newJob, rule, tagOf } from "./harness.js"
import type { RuleModule } from "./harness.js"

export const listingRules: RuleModule = (_ctx) =>
  rule("rule 10: list, stats, prune", (test) => {
    test("filters and stable cursor pagination, newest first", (store) =>
      Effect.gen(function*() {
        const mine = Array.from({ length: 25 }, (_, i) => newJob({ owner: "ann", key: `f${i}` }))
        yield* store.enqueueMany(mine)
        yield* store.enqueueMany(Array.from({ length: 5 }, () => newJob({ owner: "bob", type: "other" })))
        const seen: Array<string> = []
        let cursor: string | undefined
        let pages = 0
        do {
          const page = yield* store.list({ owner: "ann", limit: 10, cursor })
          seen.push(...page.items.map((j) => j.id))
          cursor = page.nextCursor ?? undefined
          pages++
          if (pages === 1) yield* store.enqueue(newJob({ owner: "ann" })) // newer: must not shift later pages
        } while (cursor)
        assert.strictEqual(pages, 3)
        assert.deepStrictEqual(seen, mine.map((j) => j.id).reverse())
        assert.strictEqual((yield* store.list({ owner: "bob" })).items.length, 5)
        assert.strictEqual((yield* store.list({ type: "other" })).items.length, 5)
        assert.deepStrictEqual((yield* store.list({ key: "f3" })).items.map((j) => j.id), [mine[3]!.id])
        yield* store.cancel(mine[0]!.id)
        const cancelled = yield* store.list({ status: ["cancelled"] })
        assert.deepStrictEqual(cancelled.items.map((j) => j.id), [mine[0]!.id])
        assert.strictEqual((yield* store.list({ owner: "nobody" })).items.length, 0)
      }))

    test("excludeQueue leaves a queue's jobs out of list, in the query (pages stay full), and of stats", (store) =>
      Effect.gen(function*() {
        // interleaved: a store filtering after its page would return short pages
        for (let i = 0; i < 12; i++) {
          yield* store.enqueue(newJob({ owner: null, queue: "hidden", type: "internal" }))
          yield* store.enqueue(newJob({ owner: null, key: `v${i}` }))
        }
        const seen: Array<string> = []
        let cursor: string | undefined
        do {
          const page = yield* store.list({ owner: null, excludeQueue: "hidden", limit: 5, cursor })
          if (page.nextCursor !== null) assert.strictEqual(page.items.length, 5, "a full page")
          for (const j of page.items) assert.notStrictEqual(j.queue, "hidden")
          seen.push(...page.items.map((j) => j.key!))
          cursor = page.nextCursor ?? undefined
        } while (cursor)
        assert.deepStrictEqual(seen, Array.from({ length: 12 }, (_, i) => `v${11 - i}`))
        assert.strictEqual((yield* store.list({ owner: null, limit: 500 })).items.length, 24)
        const stats = yield* store.stats({ owner: null, excludeQueue: "hidden" })
        assert.strictEqual(stats.counts.pending, 12)
        assert.deepStrictEqual(stats.byType.map((t) => t.type), ["test"])
        assert.strictEqual((yield* store.stats({ owner: null })).counts.pending, 24)
      }))

    test("list and adminList items are summaries: no payload, result or errors", (store) =>
      Effect.gen(function*() {
        const big = "x".repeat(10_000)
        const [done, failed] = [newJob({ owner: "ann", payload: { big } }), newJob({ owner: "ann", payload: { big } })]
        yield* store.enqueueMany([done, failed])
        const a = yield* claimOne(store)
        yield* store.complete(lease(a), { big })
        const b = yield* claimOne(store)
        yield* store.fail({ ...lease(b), message: "boom", retryAt: null })
        const page = yield* store.list({ owner: "ann" })
        const admin = yield* store.adminList({ filter: {}, sort: "createdAt", order: "desc", limit: 50 })
        for (const items of [page.items, admin.items]) {
          assert.strictEqual(items.length, 2)
          for (const item of items) {
            for (const field of ["payload", "result", "errors"]) assert.isFalse(field in item, `${field} in a list item`)
            assert.isString(item.id)
            assert.include(["completed", "failed"], item.status)
          }
          assert.strictEqual(items.find((j) => j.status === "failed")!.errorMessage, "boom")
        }
        // the job whole is one get away
        assert.deepStrictEqual((yield* store.get(a.id)).result, { big })
      }))

    test("stats count per status and type, with durations", (store) =>
      Effect.gen(function*() {
        yield* store.enqueueMany(Array.from({ length: 4 }, () => newJob({ owner: "ann" })))
        for (const ms of [1_000, 3_000]) {
          const held = yield* claimOne(store)
          yield* TestClock.adjust(ms)
          yield* store.complete(lease(held), null)
        }
        const f = yield* claimOne(store)
        yield* store.fail({ ...lease(f), message: "x", retryAt: null })
        yield* store.enqueue(newJob({ type: "other", owner: "bob" }))
        const all = yield* store.stats({})
        assert.deepStrictEqual(all.counts, { pending: 2, processing: 0, retrying: 0, completed: 2, failed: 1, cancelled: 0 })
        assert.closeTo(all.successRate!, 2 / 3, 1e-9)
        assert.strictEqual(all.durations.count, 2)
        assert.strictEqual(all.durations.meanMs, 2_000)
        assert.strictEqual(all.durations.p50Ms, 1_000)
        assert.strictEqual(all.durations.p95Ms, 3_000)
        assert.deepStrictEqual(all.byType.map((t) => [t.type, t.counts.pending]), [["other", 1], ["test", 1]])
        const bob = yield* store.stats({ owner: "bob" })
        assert.strictEqual(bob.counts.pending, 1)
        assert.isNull(bob.successRate)
      }))

    test("prune deletes terminal jobs finished before the cut-off, nothing else", (store) =>
      Effect.gen(function*() {
        yield* TestClock.setTime(1_000)
        const old = yield* store.enqueue(newJob())
        yield* store.cancel(old.job.id)
        const stillPending = yield* store.enqueue(newJob())
        yield* TestClock.adjust("2 hours")
        const recent = yield* store.enqueue(newJob())
        yield* store.cancel(recent.job.id)
        assert.strictEqual(yield* store.prune(new Date(1_000 + 3_600_000)), 1)
        assert.strictEqual(yield* tagOf(store.get(old.job.id)), "JobNotFound")
        assert.strictEqual((yield* store.get(stillPending.job.id)).status, "pending")
        assert.strictEqual((yield* store.get(recent.job.id)).status, "cancelled")
      }))
  })
