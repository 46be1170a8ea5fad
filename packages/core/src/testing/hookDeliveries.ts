/**
 * Conformance, rules 12–15: hook deliveries recorded with the transition,
 * claimed with a lease, settled (done / failed / dead), pruned.
 *
 * @since 0.1.0
 */
import { assert } from "@effect/vitest"
import { Effect, Option } from "effect"
import { TestClock } from "effect/testing"
import type { JobRecord, Lease, NewJob } from "../Job.js"
import type { HookDelivery, HookEvent, JobChanged, JobStoreShape } from "../JobStore.js"
import { check, newJob as job, subscribeChanges, tagOf } from "./harness.js"
import type { Check, RuleModule } from "./harness.js"

const all: ReadonlyArray<HookEvent> = ["completed", "failed", "cancelled"]

const claimJob = (store: JobStoreShape, leaseMs = 30_000) =>
  Effect.map(
    store.claim({ queues: ["default"], types: ["test"], workerId: "w1", limit: 1, leaseMs }),
    (jobs) => {
      assert.strictEqual(jobs.length, 1, "expected one claimable job")
      return jobs[0]!
    }
  )

const leaseOf = (j: JobRecord | HookDelivery): Lease => ({ id: j.id, token: j.token })

/** A job claimed by w1. */
const running = (store: JobStoreShape, overrides: Partial<NewJob> = {}) =>
  Effect.andThen(store.enqueue(job(overrides)), claimJob(store))

const deliveriesOf = (store: JobStoreShape, jobId: string) => store.listDeliveries({ jobId })

const claim = (store: JobStoreShape, options: { types?: ReadonlyArray<string>; events?: ReadonlyArray<HookEvent>; limit?: number; workerId?: string; leaseMs?: number } = {}) =>
  store.claimDeliveries({
    types: options.types ?? ["test"],
    events: options.events ?? all,
    workerId: options.workerId ?? "d1",
    limit: options.limit ?? 10,
    leaseMs: options.leaseMs ?? 10_000
  })

/** Exactly one delivery for the job, for this event, carrying the job as `status`. */
const expectOne = (store: JobStoreShape, jobId: string, event: HookEvent) =>
  Effect.gen(function*() {
    const list = yield* deliveriesOf(store, jobId)
    assert.strictEqual(list.length, 1, `expected one ${event} delivery for the job, found ${list.length}`)
    const d = list[0]!
    assert.strictEqual(d.event, event)
    assert.strictEqual(d.jobId, jobId)
    assert.strictEqual(d.type, "test")
    assert.strictEqual(d.job.id, jobId)
    assert.strictEqual(d.job.status, event)
    assert.strictEqual(d.status, "pending")
    assert.strictEqual(d.attempts, 0)
    return d
  })

const expectNone = (store: JobStoreShape, jobId: string, why: string) =>
  Effect.map(deliveriesOf(store, jobId), (list) => assert.strictEqual(list.length, 0, why))

/** The checks of rules 12–15, each title prefixed with its rule number. */
/** A check run with every event of the test types subscribed (deliveries are recorded for subscribed hooks only). */
const hooked = (title: string, run: Check["run"]): Check =>
  check(title, (store) => Effect.andThen(store.subscribeHooks({ types: ["test", "other"], events: all }), run(store)))

export const hookDeliveryChecks: ReadonlyArray<Check> = [
  check(
    "rule 12: " + "a delivery is recorded only for a subscribed (type, event); subscribing again changes nothing",
    (store) =>
      Effect.gen(function*() {
        const before = yield* running(store)
        yield* store.complete(leaseOf(before), 1)
        yield* expectNone(store, before.id, "a delivery was recorded although no process has the hook")
        yield* store.subscribeHooks({ types: ["test"], events: ["failed"] })
        yield* store.subscribeHooks({ types: ["test", "other"], events: ["failed"] })
        const done = yield* running(store)
        yield* store.complete(leaseOf(done), 2)
        yield* expectNone(store, done.id, "a completed delivery was recorded with only failed subscribed")
        const failed = yield* running(store, { maxAttempts: 1 })
        yield* store.fail({ ...leaseOf(failed), message: "boom", retryAt: null })
        yield* expectOne(store, failed.id, "failed")
      })
  ),
  hooked(
    "rule 12: " + "complete records one completed delivery with the job as completed, claimable at once",
    (store) =>
      Effect.gen(function*() {
        yield* TestClock.setTime(10_000)
        const held = yield* running(store)
        yield* store.complete(leaseOf(held), { ok: true })
        const d = yield* expectOne(store, held.id, "completed")
        assert.deepStrictEqual(d.job.result, { ok: true })
        assert.strictEqual(d.availableAt.getTime(), 10_000)
        assert.strictEqual(d.createdAt.getTime(), 10_000)
        assert.isNull(d.lastError)
        const claimed = yield* claim(store)
        assert.deepStrictEqual(claimed.map((c) => c.id), [d.id])
      })
  ),
  hooked(
    "rule 12: " + "completeMany records a delivery for each completed job, none for a refused one",
    (store) =>
      Effect.gen(function*() {
        const a = yield* running(store)
        const b = yield* running(store)
        const stale = { id: b.id, token: b.token + 7 }
        const out = yield* store.completeMany([{ lease: leaseOf(a), result: 1 }, { lease: stale, result: 2 }])
        assert.strictEqual(out.completed.length, 1)
        yield* expectOne(store, a.id, "completed")
        yield* expectNone(store, b.id, "a refused completion recorded a delivery")
      })
  ),
  hooked(
    "rule 12: " + "fail records a failed delivery only when no retry is left",
    (store) =>
      Effect.gen(function*() {
        yield* TestClock.setTime(1_000)
        const held = yield* running(store)
        yield* store.fail({ ...leaseOf(held), message: "boom", retryAt: new Date(2_000) })
        yield* expectNone(store, held.id, "a retrying job recorded a delivery")
        yield* TestClock.setTime(2_000)
        const again = yield* claimJob(store)
        yield* store.fail({ ...leaseOf(again), message: "final", retryAt: null })
        const d = yield* expectOne(store, held.id, "failed")
        assert.strictEqual(d.job.errorMessage, "final")
      })
  ),
  hooked(
    "rule 12: " + "cancel of a pending job, cancelled by the holder, release after a cancel request: one cancelled delivery each",
    (store) =>
      Effect.gen(function*() {
        const { job: pending } = yield* store.enqueue(job({ runAt: new Date(9e12) }))
        yield* store.cancel(pending.id)
        yield* expectOne(store, pending.id, "cancelled")

        const a = yield* running(store)
        yield* store.cancel(a.id)
        yield* expectNone(store, a.id, "a cancel request (job still processing) recorded a delivery")
        yield* store.cancelled(leaseOf(a))
        yield* expectOne(store, a.id, "cancelled")

        const b = yield* running(store)
        yield* store.release(leaseOf(b))
        yield* expectNone(store, b.id, "a release back to pending recorded a delivery")
        const b2 = yield* claimJob(store)
        yield* store.cancel(b2.id)
        yield* store.release(leaseOf(b2))
        yield* expectOne(store, b.id, "cancelled")
      })
  ),
  hooked(
    "rule 12: " + "recoverExpired records a delivery for jobs it fails or cancels, none for those it retries",
    (store) =>
      Effect.gen(function*() {
        yield* TestClock.setTime(0)
        const retried = yield* running(store, { maxAttempts: 2 })
        const failed = yield* running(store, { maxAttempts: 1 })
        const cancelled = yield* running(store, { maxAttempts: 3 })
        yield* store.cancel(cancelled.id)
        yield* TestClock.setTime(60_000)
        const moved = yield* store.recoverExpired()
        assert.strictEqual(moved.length, 3)
        yield* expectNone(store, retried.id, "a job recovered to retrying recorded a delivery")
        yield* expectOne(store, failed.id, "failed")
        yield* expectOne(store, cancelled.id, "cancelled")
      })
  ),
  hooked(
    "rule 12: " + "a refused write records nothing; a job retried and finished again gets a second delivery",
    (store) =>
      Effect.gen(function*() {
        const held = yield* running(store, { maxAttempts: 1 })
        const stale = { id: held.id, token: held.token + 1 }
        assert.strictEqual(yield* tagOf(store.complete(stale, 1)), "LeaseLost")
        assert.strictEqual(yield* tagOf(store.fail({ ...stale, message: "x", retryAt: null })), "LeaseLost")
        assert.strictEqual(yield* tagOf(store.cancelled(stale)), "LeaseLost")
        yield* expectNone(store, held.id, "a refused write recorded a delivery")
        yield* store.fail({ ...leaseOf(held), message: "x", retryAt: null })
        yield* TestClock.adjust("1 second")
        yield* store.retry(held.id)
        const again = yield* claimJob(store)
        yield* store.complete(leaseOf(again), 2)
        const list = yield* deliveriesOf(store, held.id)
        assert.deepStrictEqual(list.map((d) => d.event), ["failed", "completed"])
        assert.notStrictEqual(list[0]!.id, list[1]!.id)
      })
  ),
  hooked(
    "rule 12: " + "a recorded delivery is announced as a `hook` change",
    (store) =>
      Effect.gen(function*() {
        const next = yield* subscribeChanges(store)
        const held = yield* running(store)
        yield* store.complete(leaseOf(held), null)
        const change = yield* next((c): c is JobChanged => c.kind === "hook" && c.id === held.id)
        assert.isTrue(Option.isSome(change), "no hook change announced")
        assert.strictEqual(Option.getOrThrow(change).status, "completed")
      })
  ),
  hooked(
    "rule 13: " + "claimDeliveries takes only the asked types and events, oldest first, up to the limit, with a lease",
    (store) =>
      Effect.gen(function*() {
        yield* TestClock.setTime(1_000)
        const a = yield* running(store)
        yield* store.complete(leaseOf(a), 1)
        yield* TestClock.setTime(2_000)
        const b = yield* running(store)
        yield* store.complete(leaseOf(b), 2)
        const { job: c } = yield* store.enqueue(job())
        yield* store.cancel(c.id)
        const { job: other } = yield* store.enqueue(job({ type: "other" }))
        yield* store.cancel(other.id)

        assert.deepStrictEqual(yield* claim(store, { events: ["failed"] }), [])
        assert.deepStrictEqual(yield* claim(store, { types: ["nobody"] }), [])
        const first = yield* claim(store, { events: ["completed"], limit: 1, workerId: "d1", leaseMs: 5_000 })
        assert.deepStrictEqual(first.map((d) => d.jobId), [a.id])
        const d = first[0]!
        assert.strictEqual(d.status, "delivering")
        assert.strictEqual(d.attempts, 1)
        assert.strictEqual(d.lockedBy, "d1")
        assert.strictEqual(d.availableAt.getTime(), 2_000 + 5_000)
        const rest = yield* claim(store)
        assert.sameMembers(rest.map((x) => x.jobId), [b.id, c.id])
        assert.deepStrictEqual(yield* claim(store), [], "a held delivery was claimed again")
        const listed = yield* store.listDeliveries({ status: ["pending"] })
        assert.deepStrictEqual(listed.map((x) => x.jobId), [other.id])
      })
  ),
  hooked(
    "rule 13: " + "an expired delivery lease is claimable again with a new token; the old holder is refused",
    (store) =>
      Effect.gen(function*() {
        yield* TestClock.setTime(0)
        const held = yield* running(store)
        yield* store.complete(leaseOf(held), 1)
        const [first] = yield* claim(store, { leaseMs: 1_000 })
        yield* TestClock.setTime(999)
        assert.deepStrictEqual(yield* claim(store), [])
        yield* TestClock.setTime(1_000)
        const [second] = yield* claim(store, { workerId: "d2" })
        assert.isDefined(second)
        assert.strictEqual(second!.id, first!.id)
        assert.strictEqual(second!.attempts, 2)
        assert.isAbove(second!.token, first!.token)
        assert.strictEqual(yield* tagOf(store.deliveryDone(leaseOf(first!))), "LeaseLost")
        assert.strictEqual(
          yield* tagOf(store.deliveryFailed({ ...leaseOf(first!), message: "late", retryAt: null })),
          "LeaseLost"
        )
        yield* store.deliveryDone(leaseOf(second!))
      })
  ),
  hooked(
    "rule 13: " + "under concurrent claimers a delivery is held in at most one place",
    (store) =>
      Effect.gen(function*() {
        for (let i = 0; i < 12; i++) {
          const { job: j } = yield* store.enqueue(job())
          yield* store.cancel(j.id)
        }
        const results = yield* Effect.forEach(
          Array.from({ length: 8 }, (_, i) => i),
          (i) => claim(store, { limit: 3, workerId: `d${i}` }),
          { concurrency: "unbounded" }
        )
        const ids = results.flat().map((d) => d.id)
        assert.strictEqual(new Set(ids).size, ids.length, "a delivery was claimed twice")
        assert.strictEqual(ids.length, 12)
      })
  ),
  hooked(
    "rule 14: " + "deliveryDone deletes the delivery; a second done is refused",
    (store) =>
      Effect.gen(function*() {
        const held = yield* running(store)
        yield* store.complete(leaseOf(held), 1)
        const [d] = yield* claim(store)
        yield* store.deliveryDone(leaseOf(d!))
        yield* expectNone(store, held.id, "a delivered hook is still recorded")
        assert.strictEqual(yield* tagOf(store.deliveryDone(leaseOf(d!))), "LeaseLost")
        assert.strictEqual(yield* tagOf(store.deliveryDone({ id: "not-an-id", token: 1 })), "LeaseLost")
      })
  ),
  hooked(
    "rule 14: " + "deliveryFailed: pending again at retryAt (not before), or dead and never claimed again",
    (store) =>
      Effect.gen(function*() {
        yield* TestClock.setTime(0)
        const held = yield* running(store)
        yield* store.complete(leaseOf(held), 1)
        const [d] = yield* claim(store)
        const retried = yield* store.deliveryFailed({ ...leaseOf(d!), message: "503", retryAt: new Date(4_000) })
        assert.strictEqual(retried.status, "pending")
        assert.strictEqual(retried.lastError, "503")
        assert.strictEqual(retried.availableAt.getTime(), 4_000)
        yield* TestClock.setTime(3_999)
        assert.deepStrictEqual(yield* claim(store), [], "claimed before its retry time")
        yield* TestClock.setTime(4_000)
        const [again] = yield* claim(store)
        assert.strictEqual(again!.attempts, 2)
        const dead = yield* store.deliveryFailed({ ...leaseOf(again!), message: "still 503", retryAt: null })
        assert.strictEqual(dead.status, "dead")
        yield* TestClock.setTime(1e9)
        assert.deepStrictEqual(yield* claim(store), [], "a dead delivery was claimed")
        const listed = yield* store.listDeliveries({ status: ["dead"] })
        assert.deepStrictEqual(listed.map((x) => [x.id, x.lastError, x.attempts]), [[d!.id, "still 503", 2]])
      })
  ),
  hooked(
    "rule 15: " + "a delivery outlives its job's deletion; prune removes deliveries recorded before the cut-off",
    (store) =>
      Effect.gen(function*() {
        yield* TestClock.setTime(1_000)
        const { job: old } = yield* store.enqueue(job())
        yield* store.cancel(old.id)
        yield* store.delete(old.id)
        const kept = yield* expectOne(store, old.id, "cancelled")
        yield* TestClock.setTime(1_000 + 7_200_000)
        const { job: recent } = yield* store.enqueue(job())
        yield* store.cancel(recent.id)
        yield* store.prune(new Date(1_000 + 3_600_000))
        yield* expectNone(store, old.id, "prune kept a delivery recorded before the cut-off")
        yield* expectOne(store, recent.id, "cancelled")
        assert.isDefined(kept)
      })
  )
]

export const hookDeliveryRules: RuleModule = (_ctx) => ({
  title: "rules 12–15: hook deliveries",
  checks: hookDeliveryChecks
})
