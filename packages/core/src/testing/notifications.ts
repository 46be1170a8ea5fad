/** Conformance, rule 11: change notifications. */
import { assert } from "@effect/vitest"
import { Clock, Effect, Option } from "effect"
import { TestClock } from "effect/testing"
import type { AdminAction } from "../AdminStore.js"
import type { JobChanged, JobStoreShape } from "../JobStore.js"
import { claimOne, lease, newJob, rule, subscribeChanges } from "./harness.js"
import type { RuleModule } from "./harness.js"

/** Subscribe to the store's changes; `next(id, kind)` waits (at most 5 s of real time) for that change of that job. */
const listen = (store: JobStoreShape) =>
  Effect.map(subscribeChanges(store), (next) =>
    Object.assign(
      (id: string, kind: JobChanged["kind"]) =>
        next((c): c is JobChanged => c.kind !== "resync" && c.kind !== "queueChanged" && c.id === id && c.kind === kind),
      { any: next }
    ))

export const notificationRules: RuleModule = (_ctx) =>
  rule("rule 11: change notifications", (test) => {
    test("enqueue and cancel requests are announced; progress and status of a watched job", (store) =>
      Effect.gen(function*() {
        const next = yield* listen(store)
        const { job } = yield* store.enqueue(newJob())
        assert.isTrue(Option.isSome(yield* next(job.id, "enqueued")))
        yield* store.watching(job.id)
        const held = yield* claimOne(store)
        yield* store.progress(lease(held), 30, "x")
        assert.isTrue(Option.isSome(yield* next(job.id, "progress")))
        yield* store.cancel(job.id)
        assert.isTrue(Option.isSome(yield* next(job.id, "cancelRequested")))
        yield* store.cancelled(lease(held))
        const status = yield* next(job.id, "status")
        assert.isTrue(Option.isSome(status))
        assert.strictEqual(Option.getOrThrow(status).status, "cancelled")
      }))

    test("a job claimable again is announced as enqueued: a release, a retry due at once, a recovered lease", (store) =>
      Effect.gen(function*() {
        const next = yield* listen(store)
        // one at a time: each claimed job is the only claimable one
        const { job: released } = yield* store.enqueue(newJob())
        yield* store.release(lease(yield* claimOne(store)))
        assert.isTrue(Option.isSome(yield* next(released.id, "enqueued")), "not announced: enqueued")
        assert.isTrue(Option.isSome(yield* next(released.id, "enqueued")), "a released job was not announced")
        yield* store.complete(lease(yield* claimOne(store)), null)
        const { job: retried } = yield* store.enqueue(newJob())
        yield* store.fail({ ...lease(yield* claimOne(store)), message: "again", retryAt: new Date(yield* Clock.currentTimeMillis) })
        assert.isTrue(Option.isSome(yield* next(retried.id, "enqueued")), "not announced: enqueued")
        assert.isTrue(Option.isSome(yield* next(retried.id, "enqueued")), "a retry due at once was not announced")
        yield* store.complete(lease(yield* claimOne(store)), null)
        const { job: recovered } = yield* store.enqueue(newJob())
        yield* claimOne(store, "lost", 10_000)
        yield* TestClock.adjust("11 seconds")
        assert.strictEqual((yield* store.recoverExpired()).length, 1)
        assert.isTrue(Option.isSome(yield* next(recovered.id, "enqueued")), "not announced: enqueued")
        assert.isTrue(Option.isSome(yield* next(recovered.id, "enqueued")), "a recovered lease was not announced")
      }))

    test("a durable sleep already due is announced as enqueued: the job is claimable at once", (store) =>
      Effect.gen(function*() {
        const next = yield* listen(store)
        const { job } = yield* store.enqueue(newJob())
        assert.isTrue(Option.isSome(yield* next(job.id, "enqueued")), "not announced: enqueued")
        const held = yield* claimOne(store)
        // a sleep whose wake time has come (a short sleep, or a slow write): no runner should wait for its poll
        const slept = yield* store.sleep(lease(held), { name: "sleep#1", index: 0 }, new Date(yield* Clock.currentTimeMillis))
        assert.strictEqual(slept.status, "pending")
        assert.isTrue(Option.isSome(yield* next(job.id, "enqueued")), "a due sleep was not announced")
      }))

    test("an operator's runNow of a delayed or retrying job and retry of a failed or cancelled job are announced as enqueued", (store) =>
      Effect.gen(function*() {
        const next = yield* listen(store)
        const inAnHour = new Date((yield* Clock.currentTimeMillis) + 3_600_000)
        const act = (action: AdminAction, id: string) =>
          Effect.map(store.bulkChunk({ action, filter: { ids: [id] }, after: null, limit: 10 }), (r) => {
            assert.strictEqual(r.applied, 1, `${action._tag} did not apply`)
          })
        // each job announced when enqueued, then (one at a time) when the operator's action makes it claimable
        const { job: delayed } = yield* store.enqueue(newJob({ runAt: inAnHour }))
        assert.isTrue(Option.isSome(yield* next(delayed.id, "enqueued")), "not announced: enqueued")
        yield* act({ _tag: "runNow" }, delayed.id)
        assert.isTrue(Option.isSome(yield* next(delayed.id, "enqueued")), "runNow of a delayed job was not announced")
        yield* store.complete(lease(yield* claimOne(store)), null)

        const { job: retrying } = yield* store.enqueue(newJob())
        assert.isTrue(Option.isSome(yield* next(retrying.id, "enqueued")), "not announced: enqueued")
        yield* store.fail({ ...lease(yield* claimOne(store)), message: "later", retryAt: inAnHour })
        yield* act({ _tag: "runNow" }, retrying.id)
        assert.isTrue(Option.isSome(yield* next(retrying.id, "enqueued")), "runNow of a retrying job was not announced")
        yield* store.complete(lease(yield* claimOne(store)), null)

        const { job: failed } = yield* store.enqueue(newJob())
        assert.isTrue(Option.isSome(yield* next(failed.id, "enqueued")), "not announced: enqueued")
        yield* store.fail({ ...lease(yield* claimOne(store)), message: "final", retryAt: null })
        yield* act({ _tag: "retry" }, failed.id)
        assert.isTrue(Option.isSome(yield* next(failed.id, "enqueued")), "retry of a failed job was not announced")
        yield* store.complete(lease(yield* claimOne(store)), null)

        const { job: cancelled } = yield* store.enqueue(newJob())
        assert.isTrue(Option.isSome(yield* next(cancelled.id, "enqueued")), "not announced: enqueued")
        yield* store.cancel(cancelled.id)
        yield* act({ _tag: "retry" }, cancelled.id)
        assert.isTrue(Option.isSome(yield* next(cancelled.id, "enqueued")), "retry of a cancelled job was not announced")
      }))

    test("an operator's runNow of jobs already due changes and announces none of them: they keep their place", (store) =>
      Effect.gen(function*() {
        const next = yield* listen(store)
        const t0 = yield* Clock.currentTimeMillis
        const due = [newJob({ runAt: new Date(t0 - 1_000) }), newJob({ runAt: new Date(t0) })]
        const later = newJob({ runAt: new Date(t0 + 3_600_000) })
        yield* store.enqueueMany([...due, later])
        // announcements arrive in order: a marker's enqueue, announced after the jobs' (a store
        // may announce only due ones), is heard after all of theirs
        const first = newJob()
        yield* store.enqueue(first)
        assert.isTrue(Option.isSome(yield* next(first.id, "enqueued")), "not announced: enqueued")
        yield* store.delete(first.id)
        yield* TestClock.adjust(1_000)
        const r = yield* store.bulkChunk({ action: { _tag: "runNow" }, filter: {}, after: null, limit: 10 })
        assert.deepStrictEqual([r.applied, r.skipped], [1, 2])
        // the delayed job is announced; the due ones are not (nor moved back in the claim order):
        // every announcement of the runNow arrives before a marker's enqueue announced after it
        const marker = newJob()
        yield* store.enqueue(marker)
        const ids = new Set([...due, later, marker].map((j) => j.id))
        const heard: Array<string> = []
        while (heard.at(-1) !== marker.id) {
          const c = yield* next.any((c): c is JobChanged => c.kind === "enqueued" && ids.has(c.id))
          assert.isTrue(Option.isSome(c), "the marker's enqueue was not announced")
          heard.push(Option.getOrThrow(c).id)
        }
        assert.deepStrictEqual(heard, [later.id, marker.id], "runNow announced a job already due")
        assert.deepStrictEqual(
          (yield* Effect.forEach(due, (j) => store.get(j.id))).map((j) => j.runAt.getTime()),
          [t0 - 1_000, t0]
        )
        assert.strictEqual((yield* store.get(later.id)).runAt.getTime(), t0 + 1_000)
      }))

    test("deletions are announced, whether or not anyone watches the job", (store) =>
      Effect.gen(function*() {
        const next = yield* listen(store)
        const { job: pending } = yield* store.enqueue(newJob())
        yield* store.delete(pending.id)
        const gone = yield* next(pending.id, "deleted")
        assert.isTrue(Option.isSome(gone), "deleting a pending job was not announced")
        const { job: done } = yield* store.enqueue(newJob())
        yield* store.complete(lease(yield* claimOne(store)), null)
        yield* store.delete(done.id)
        assert.isTrue(Option.isSome(yield* next(done.id, "deleted")), "deleting a completed job was not announced")
      }))
  })
