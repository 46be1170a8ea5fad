/**
 * Conformance, rules 16–20: the operator's verbs (`AdminStore`) — listing
 * across owners with filters, sorting and keyset pages; capped counts;
 * oldest waiting job; time series; actions by filter in chunks; the audit
 * trail.
 */
import { assert } from "@effect/vitest"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import type { AdminFilter, AdminListRequest } from "../AdminStore.js"
import type { JobSummary } from "../Job.js"
import type { JobStoreShape } from "../JobStore.js"
import { binOf, binValue } from "../SeriesHistogram.js"
import { claimReq, lease, newJob, rule } from "./harness.js"
import type { RuleModule } from "./harness.js"

/** Claim the claimable jobs of `type` (up to `n`), let `ms` pass, then complete or fail each. */
const settle = (
  store: JobStoreShape,
  type: string,
  outcome: "complete" | "fail",
  options: { readonly ms?: number; readonly n?: number; readonly message?: string; readonly queue?: string } = {}
) =>
  Effect.gen(function*() {
    const held = yield* store.claim({ ...claimReq(options.n ?? 1), types: [type], queues: [options.queue ?? "default"] })
    assert.isAbove(held.length, 0, `expected a claimable ${type} job`)
    yield* TestClock.adjust(options.ms ?? 0)
    for (const job of held) {
      if (outcome === "complete") yield* store.complete(lease(job), null)
      else yield* store.fail({ ...lease(job), message: options.message ?? "boom", retryAt: null })
    }
    return held
  })

const ids = (jobs: ReadonlyArray<{ readonly id: string }>) => jobs.map((j) => j.id)

/** What a chart reports for a value: the middle of its bin. */
const binned = (ms: number) => binValue(binOf(ms))

/** Every page of a listing, concatenated. */
const allPages = (store: JobStoreShape, request: Omit<AdminListRequest, "cursor">) =>
  Effect.gen(function*() {
    const out: Array<JobSummary> = []
    let cursor: AdminListRequest["cursor"]
    for (let i = 0; i < 100; i++) {
      const page = yield* store.adminList({ ...request, cursor })
      out.push(...page.items)
      if (page.next === null) return out
      cursor = page.next
    }
    throw new Error("paging did not end")
  })

const list = (store: JobStoreShape, filter: AdminFilter) =>
  Effect.map(store.adminList({ filter, sort: "createdAt", order: "asc", limit: 500 }), (p) => ids(p.items))

export const adminRules: RuleModule = (_ctx) =>
  rule("rules 16-20: the operator's verbs", (test) => {
    test("16: adminList filters across owners by every field", (store) =>
      Effect.gen(function*() {
        const a = newJob({ owner: "ann", key: "k1" })
        const b = newJob({ owner: "bob", queue: "q2", type: "other" })
        yield* store.enqueueMany([a, b])
        yield* TestClock.adjust(1_000)
        const c = newJob({ owner: null })
        const d = newJob({ owner: "ann" })
        yield* store.enqueueMany([c, d])
        // a fails at 2 s with a message holding a LIKE metacharacter; c completes at 3 s
        yield* TestClock.adjust(1_000)
        const [failed] = yield* store.claim({ ...claimReq(1), types: ["test"] })
        assert.strictEqual(failed!.id, a.id)
        yield* store.fail({ ...lease(failed!), message: "Timeout at 50% of the PDF", retryAt: null })
        yield* TestClock.adjust(1_000)
        const [done] = yield* store.claim({ ...claimReq(1), types: ["test"] })
        assert.strictEqual(done!.id, c.id)
        yield* store.complete(lease(done!), { ok: true })

        assert.deepStrictEqual(yield* list(store, {}), [a.id, b.id, c.id, d.id])
        assert.deepStrictEqual(yield* list(store, { owner: "ann" }), [a.id, d.id])
        assert.deepStrictEqual(yield* list(store, { owner: null }), [c.id])
        assert.deepStrictEqual(yield* list(store, { status: ["failed", "completed"] }), [a.id, c.id])
        assert.deepStrictEqual(yield* list(store, { type: "other" }), [b.id])
        assert.deepStrictEqual(yield* list(store, { queue: "q2" }), [b.id])
        assert.deepStrictEqual(yield* list(store, { key: "k1" }), [a.id])
        assert.deepStrictEqual(yield* list(store, { ids: [d.id, b.id, "not-an-id"] }), [b.id, d.id])
        assert.deepStrictEqual(yield* list(store, { createdFrom: new Date(1_000) }), [c.id, d.id])
        assert.deepStrictEqual(yield* list(store, { createdTo: new Date(1_000) }), [a.id, b.id])
        assert.deepStrictEqual(yield* list(store, { finishedFrom: new Date(2_500) }), [c.id])
        assert.deepStrictEqual(yield* list(store, { finishedTo: new Date(2_500) }), [a.id])
        assert.deepStrictEqual(yield* list(store, { errorContains: "timeout AT 50%" }), [a.id])
        // % and _ are text, not wildcards
        assert.deepStrictEqual(yield* list(store, { errorContains: "t%f" }), [])
        assert.deepStrictEqual(yield* list(store, { errorContains: "50_" }), [])
        assert.deepStrictEqual(yield* list(store, { owner: "ann", status: ["pending"] }), [d.id])
      }))

    test("16: adminList sorts, breaks ties by id, and pages by keyset without gaps or repeats", (store) =>
      Effect.gen(function*() {
        const first = Array.from({ length: 4 }, () => newJob())
        yield* store.enqueueMany(first)
        yield* TestClock.adjust(1_000)
        const second = Array.from({ length: 3 }, () => newJob({ runAt: new Date(500) }))
        yield* store.enqueueMany(second)
        const all = [...first, ...second]
        const sortedIds = ids(all).sort()
        const asc = yield* allPages(store, { filter: {}, sort: "createdAt", order: "asc", limit: 3 })
        assert.deepStrictEqual(ids(asc), [...ids(first).sort(), ...ids(second).sort()])
        const desc = yield* allPages(store, { filter: {}, sort: "createdAt", order: "desc", limit: 2 })
        assert.deepStrictEqual(ids(desc), [...ids(second).sort().reverse(), ...ids(first).sort().reverse()])
        const byRun = yield* allPages(store, { filter: {}, sort: "runAt", order: "asc", limit: 4 })
        assert.deepStrictEqual(ids(byRun), [...ids(first).sort(), ...ids(second).sort()])
        assert.strictEqual(sortedIds.length, 7)

        // completedAt lists finished jobs only, newest finish first
        yield* TestClock.adjust(1_000)
        const [x] = yield* settle(store, "test", "complete")
        yield* TestClock.adjust(1_000)
        const [y] = yield* settle(store, "test", "fail")
        const finished = yield* allPages(store, { filter: {}, sort: "completedAt", order: "desc", limit: 1 })
        assert.deepStrictEqual(ids(finished), [y!.id, x!.id])
        // a page's limit is held within 1–500
        assert.strictEqual((yield* store.adminList({ filter: {}, sort: "createdAt", order: "asc", limit: 0 })).items.length, 1)
      }))

    test("16: keyset pages by creation time run across statuses", (store) =>
      Effect.gen(function*() {
        // created 1 s apart, statuses interleaved: completed, failed, completed, pending, completed, pending
        const jobs: Array<{ readonly id: string }> = []
        for (let i = 0; i < 6; i++) {
          const job = newJob({ type: i % 2 === 0 ? "a" : "b" })
          yield* store.enqueueMany([job])
          jobs.push(job)
          yield* TestClock.adjust(1_000)
        }
        yield* settle(store, "a", "complete", { n: 3 })
        yield* settle(store, "b", "fail", { n: 1 })
        const created = ids(jobs)
        for (const limit of [1, 2, 4]) {
          const asc = yield* allPages(store, { filter: {}, sort: "createdAt", order: "asc", limit })
          assert.deepStrictEqual(ids(asc), created)
          const desc = yield* allPages(store, { filter: {}, sort: "createdAt", order: "desc", limit })
          assert.deepStrictEqual(ids(desc), [...created].reverse())
        }
        const some = yield* allPages(store, { filter: { status: ["pending", "completed"] }, sort: "createdAt", order: "desc", limit: 2 })
        assert.deepStrictEqual(ids(some), [created[5], created[4], created[3], created[2], created[0]])
        const none = yield* store.adminList({ filter: { status: [] }, sort: "createdAt", order: "desc", limit: 10 })
        assert.deepStrictEqual(none.items, [])
      }))

    test("17: adminCounts per queue, type and status; a status over the cap is labelled capped", (store) =>
      Effect.gen(function*() {
        yield* store.enqueueMany([
          ...Array.from({ length: 4 }, () => newJob()),
          newJob({ type: "other" }),
          newJob({ queue: "q2", owner: "ann" })
        ])
        yield* settle(store, "test", "fail", { n: 1 })
        const exact = yield* store.adminCounts({ filter: {} })
        assert.deepStrictEqual(
          exact.rows.map((r) => [r.queue, r.type, r.status, r.count, r.capped]),
          [
            ["default", "other", "pending", 1, false],
            ["default", "test", "pending", 3, false],
            ["default", "test", "failed", 1, false],
            ["q2", "test", "pending", 1, false]
          ]
        )
        const owned = yield* store.adminCounts({ filter: { owner: "ann" } })
        assert.deepStrictEqual(owned.rows.map((r) => [r.queue, r.status, r.count]), [["q2", "pending", 1]])
        const capped = yield* store.adminCounts({ filter: {}, cap: 2 })
        assert.strictEqual(capped.cap, 2)
        const pending = capped.rows.filter((r) => r.status === "pending")
        assert.isTrue(pending.every((r) => r.capped))
        const sum = pending.reduce((n, r) => n + r.count, 0)
        assert.isTrue(sum >= 2 && sum <= 3, `capped sum ${sum}`)
        assert.isFalse(capped.rows.find((r) => r.status === "failed")!.capped)
      }))

    test("17: oldestWaiting names each queue's longest-waiting claimable job", (store) =>
      Effect.gen(function*() {
        yield* TestClock.adjust(10_000)
        const old = newJob({ runAt: new Date(2_000) })
        const older = newJob({ runAt: new Date(1_000), queue: "q2" })
        const future = newJob({ runAt: new Date(60_000), queue: "q3" })
        yield* store.enqueueMany([newJob({ runAt: new Date(5_000) }), old, older, future])
        const rows = yield* store.oldestWaiting({})
        assert.deepStrictEqual(rows.map((r) => [r.queue, r.id, r.since.getTime()]), [
          ["default", old.id, 2_000],
          ["q2", older.id, 1_000]
        ])
        assert.deepStrictEqual(yield* store.oldestWaiting({ queue: "q3" }), [])
      }))

    test("18: series buckets finished jobs by finish time with counts and p50/p95 of duration and wait", (store) =>
      Effect.gen(function*() {
        // bucket 0 (0–60 s): one completed after 1 s of work, having waited 2 s
        yield* store.enqueue(newJob())
        yield* TestClock.adjust(2_000)
        yield* settle(store, "test", "complete", { ms: 1_000 })
        // bucket 2 (120–180 s): two completed (3 s and 5 s), one failed (1 s), one cancelled
        yield* TestClock.adjust(120_000 - 3_000)
        yield* store.enqueueMany(Array.from({ length: 4 }, () => newJob({ runAt: new Date(120_000) })))
        const [h1, h2, h3] = yield* store.claim(claimReq(3))
        yield* TestClock.adjust(1_000)
        yield* store.fail({ ...lease(h3!), message: "x", retryAt: null })
        yield* TestClock.adjust(2_000)
        yield* store.complete(lease(h1!), null)
        yield* TestClock.adjust(2_000)
        yield* store.complete(lease(h2!), null)
        const [rest] = yield* store.adminList({ filter: { status: ["pending"] }, sort: "createdAt", order: "asc", limit: 1 })
          .pipe(Effect.map((p) => p.items))
        yield* store.cancel(rest!.id)

        const range = { filter: {}, from: new Date(0), to: new Date(240_000), bucketMs: 60_000 }
        const buckets = yield* store.series(range)
        assert.deepStrictEqual(buckets.map((b) => b.start.getTime()), [0, 60_000, 120_000, 180_000])
        assert.deepStrictEqual(buckets.map((b) => [b.completed, b.failed, b.cancelled]), [[1, 0, 0], [0, 0, 0], [2, 1, 1], [0, 0, 0]])
        // percentiles are their bin's middle (SeriesHistogram), within 4.4 % of the value
        assert.deepStrictEqual(
          [buckets[0]!.durationP50Ms, buckets[0]!.durationP95Ms, buckets[0]!.waitP50Ms, buckets[0]!.waitP95Ms],
          [binned(1_000), binned(1_000), binned(2_000), binned(2_000)]
        )
        assert.closeTo(buckets[0]!.durationP50Ms!, 1_000, 44)
        assert.deepStrictEqual([buckets[2]!.durationP50Ms, buckets[2]!.durationP95Ms], [binned(3_000), binned(5_000)])
        assert.deepStrictEqual([buckets[2]!.waitP50Ms, buckets[2]!.waitP95Ms], [0, 0])
        assert.isNull(buckets[1]!.durationP50Ms)
        // the same chart later, when a store may have summarized those minutes; and by queue
        yield* TestClock.adjust(3_600_000)
        assert.deepStrictEqual(yield* store.series(range), buckets)
        assert.deepStrictEqual(yield* store.series({ ...range, filter: { queue: "default", type: "test" } }), buckets)
        const quarter = yield* store.series({ filter: {}, from: new Date(0), to: new Date(1_800_000), bucketMs: 900_000 })
        assert.deepStrictEqual(quarter.map((b) => [b.completed, b.failed, b.cancelled]), [[3, 1, 1], [0, 0, 0]])
        // durations 1 s (bucket 0), 1 s (the failed one), 3 s and 5 s
        assert.deepStrictEqual([quarter[0]!.durationP50Ms, quarter[0]!.durationP95Ms], [binned(1_000), binned(5_000)])
        const other = yield* store.series({ filter: { type: "other" }, from: new Date(0), to: new Date(240_000), bucketMs: 60_000 })
        assert.isTrue(other.every((b) => b.completed + b.failed + b.cancelled === 0))
        // too many buckets: widened to at most 1,440
        const wide = yield* store.series({ filter: {}, from: new Date(0), to: new Date(86_400_000), bucketMs: 1 })
        assert.strictEqual(wide.length, 1_440)
        assert.strictEqual(wide[0]!.completed + wide[0]!.failed + wide[0]!.cancelled, 1)
        assert.strictEqual(wide[2]!.completed + wide[2]!.failed + wide[2]!.cancelled, 4)
      }))

    test("19: bulkChunk retries by filter in chunks, in id order, skipping what it cannot change", (store) =>
      Effect.gen(function*() {
        const jobs = Array.from({ length: 5 }, (_, i) => newJob({ key: i === 4 ? "dup" : null }))
        yield* store.enqueueMany(jobs)
        yield* settle(store, "test", "fail", { n: 5, message: "bad input" })
        // a live job with the same key as a failed one: that one cannot be retried (rule 2)
        yield* store.enqueue(newJob({ key: "dup" }))
        const other = newJob({ type: "other" })
        yield* store.enqueue(other)
        yield* settle(store, "other", "fail", { message: "bad input" })

        const filter: AdminFilter = { type: "test", errorContains: "bad" }
        const first = yield* store.bulkChunk({ action: { _tag: "retry" }, filter, after: null, limit: 2 })
        assert.deepStrictEqual(first, { applied: 2, skipped: 0, last: ids(jobs).sort()[1]! })
        const second = yield* store.bulkChunk({ action: { _tag: "retry" }, filter, after: first.last, limit: 2 })
        assert.strictEqual(second.applied, 2)
        const third = yield* store.bulkChunk({ action: { _tag: "retry" }, filter, after: second.last, limit: 2 })
        assert.deepStrictEqual(third, { applied: 0, skipped: 1, last: null })
        for (const j of jobs.slice(0, 4)) assert.strictEqual((yield* store.get(j.id)).status, "pending")
        assert.strictEqual((yield* store.get(jobs[4]!.id)).status, "failed")
        assert.strictEqual((yield* store.get(other.id)).status, "failed")
      }))

    test("19: bulkChunk cancel, delete, runNow and setPriority apply only where valid", (store) =>
      Effect.gen(function*() {
        const running = newJob({ priority: 5 })
        yield* store.enqueue(running)
        const [held] = yield* store.claim(claimReq(1))
        assert.strictEqual(held!.id, running.id)
        yield* TestClock.adjust(1_000)
        const later = newJob({ runAt: new Date(3_600_000) })
        const waiting = newJob()
        yield* store.enqueueMany([later, waiting])
        yield* store.subscribeHooks({ types: ["test"], events: ["cancelled"] })

        const prio = yield* store.bulkChunk({ action: { _tag: "setPriority", priority: 7 }, filter: {}, after: null, limit: 100 })
        assert.deepStrictEqual([prio.applied, prio.skipped, prio.last], [2, 0, null])
        assert.strictEqual((yield* store.get(later.id)).priority, 7)
        assert.strictEqual((yield* store.get(running.id)).priority, 5)

        const now = yield* store.bulkChunk({ action: { _tag: "runNow" }, filter: { ids: [later.id] }, after: null, limit: 100 })
        assert.strictEqual(now.applied, 1)
        assert.strictEqual((yield* store.get(later.id)).runAt.getTime(), 1_000)

        const del = yield* store.bulkChunk({ action: { _tag: "delete" }, filter: { ids: [running.id, waiting.id] }, after: null, limit: 100 })
        assert.strictEqual(del.applied, 1)
        assert.strictEqual((yield* store.get(running.id)).status, "processing")
        assert.strictEqual(yield* Effect.flip(store.get(waiting.id)).pipe(Effect.map((e) => e._tag)), "JobNotFound")

        const cancel = yield* store.bulkChunk({ action: { _tag: "cancel" }, filter: {}, after: null, limit: 100 })
        assert.strictEqual(cancel.applied, 2)
        assert.isTrue((yield* store.get(running.id)).cancelRequested)
        assert.strictEqual((yield* store.get(later.id)).status, "cancelled")
        // the cancelled job's hook delivery is recorded with the transition (rule 12)
        const deliveries = yield* store.listDeliveries({ jobId: later.id })
        assert.deepStrictEqual(deliveries.map((d) => d.event), ["cancelled"])
        // nothing left to cancel
        const again = yield* store.bulkChunk({ action: { _tag: "cancel" }, filter: { status: ["pending"] }, after: null, limit: 100 })
        assert.deepStrictEqual(again, { applied: 0, skipped: 0, last: null })
      }))

    test("20: the audit trail keeps who, what, target, count and when, newest first, paged", (store) =>
      Effect.gen(function*() {
        yield* TestClock.adjust(5_000)
        const a = yield* store.recordAudit({ actor: "ann", action: "retry", target: { ids: ["x"] }, count: 1, jobId: null })
        yield* TestClock.adjust(1_000)
        const b = yield* store.recordAudit({
          actor: "bob <script>",
          action: "bulk.cancel",
          target: { filter: { status: ["pending"], type: "extract" } },
          count: null,
          jobId: null
        })
        assert.strictEqual(a.at.getTime(), 5_000)
        assert.strictEqual(b.at.getTime(), 6_000)
        const page = yield* store.listAudit({ limit: 1 })
        assert.deepStrictEqual(page.items.map((e) => [e.actor, e.action, e.count]), [["bob <script>", "bulk.cancel", null]])
        assert.deepStrictEqual(page.items[0]!.target, { filter: { status: ["pending"], type: "extract" } })
        assert.isNotNull(page.next)
        const rest = yield* store.listAudit({ limit: 10, before: page.next! })
        assert.deepStrictEqual(rest.items.map((e) => [e.actor, e.target, e.count]), [["ann", { ids: ["x"] }, 1]])
        assert.isNull(rest.next)
      }))
  })
