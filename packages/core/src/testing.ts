/**
 * The store conformance suite. One call registers a vitest test for every
 * rule of the store contract (DESIGN.md, rules 1–11); a store that passes it
 * can back the tracker and the runner. Your own store runs it unchanged:
 *
 * @example
 * ```ts
 * // my-store.test.ts
 * import { storeConformance } from "@jobtrack/core/testing"
 * storeConformance("MyStore", { makeStore: MyStore.make({ url: process.env.DATABASE_URL }) })
 * ```
 *
 * Time is virtual (`TestClock`): stores must read the time from Effect's
 * `Clock`, never from the database or `Date.now()`.
 *
 * @since 0.1.0
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Option, Queue, Stream } from "effect"
import type { Scope } from "effect"
import { TestClock } from "effect/testing"
import type { JobRecord, JobStatus, Lease, NewJob } from "./Job.js"
import * as JobId from "./JobId.js"
import type { JobChange, JobStoreShape } from "./JobStore.js"

/**
 * @since 0.1.0
 * @category testing
 */
export interface ConformanceOptions {
  /** A fresh, empty store; built once per test inside the test's scope. */
  readonly makeStore: Effect.Effect<JobStoreShape, unknown, Scope.Scope>
  /**
   * For stores that can join a host transaction (rule 1): run `body` inside a
   * transaction and roll it back (`commit: false`) or commit it.
   */
  readonly transaction?: <A, E>(
    store: JobStoreShape,
    body: Effect.Effect<A, E>,
    commit: boolean
  ) => Effect.Effect<A, E | "rolled back", Scope.Scope>
  /** How many concurrent claimers to race (default 16). */
  readonly claimers?: number
}

/**
 * A job to insert, with defaults for every field.
 *
 * @since 0.1.0
 * @category testing
 */
export const newJob = (overrides: Partial<NewJob> = {}): NewJob => ({
  id: JobId.make(),
  type: "test",
  queue: "default",
  payload: { n: 1 },
  maxAttempts: 3,
  priority: 0,
  runAt: new Date(0),
  owner: null,
  key: null,
  groupKey: null,
  groupLimit: null,
  ...overrides
})

const claimReq = (limit: number, workerId = "w1", leaseMs = 30_000) => ({
  queues: ["default"],
  types: ["test"],
  workerId,
  limit,
  leaseMs
})

const lease = (job: JobRecord): Lease => ({ id: job.id, token: job.token })

/** Fail with the error's tag, so assertions can compare tags. */
const tagOf = <A, E extends { readonly _tag: string }>(effect: Effect.Effect<A, E>) =>
  Effect.map(Effect.flip(effect), (e) => e._tag)

/**
 * Register the conformance tests for a store.
 *
 * @since 0.1.0
 * @category testing
 */
export const storeConformance = (name: string, options: ConformanceOptions): void => {
  const N = options.claimers ?? 16
  const test = (title: string, body: (store: JobStoreShape) => Effect.Effect<void, unknown, Scope.Scope>) =>
    it.effect(title, () =>
      Effect.scoped(Effect.gen(function*() {
        const store = yield* options.makeStore
        yield* body(store)
      })))

  /** Claim one specific job (the only claimable one) and return it. */
  const claimOne = (store: JobStoreShape, workerId = "w1", leaseMs = 30_000) =>
    Effect.map(store.claim(claimReq(1, workerId, leaseMs)), (jobs) => {
      assert.strictEqual(jobs.length, 1, "expected one claimable job")
      return jobs[0]!
    })

  describe(`${name}: store conformance`, () => {
    describe("rule 1: enqueue is durable; batches; transactions", () => {
      test("enqueue returns the stored pending job with every field set", (store) =>
        Effect.gen(function*() {
          yield* TestClock.setTime(5_000)
          const input = newJob({ owner: "ann", key: "k1", priority: 3, runAt: new Date(5_000), payload: { a: [1, "x"] } })
          const { created, job } = yield* store.enqueue(input)
          assert.isTrue(created)
          const got = yield* store.get(input.id)
          for (const j of [job, got]) {
            assert.strictEqual(j.id, input.id)
            assert.strictEqual(j.status, "pending")
            assert.deepStrictEqual(j.payload, { a: [1, "x"] })
            assert.strictEqual(j.owner, "ann")
            assert.strictEqual(j.key, "k1")
            assert.strictEqual(j.priority, 3)
            assert.strictEqual(j.attempts, 0)
            assert.strictEqual(j.maxAttempts, 3)
            assert.strictEqual(j.progress, 0)
            assert.isNull(j.result)
            assert.isNull(j.startedAt)
            assert.isNull(j.completedAt)
            assert.isFalse(j.cancelRequested)
            assert.deepStrictEqual(j.errors, [])
            assert.strictEqual(j.createdAt.getTime(), 5_000)
          }
        }))

      test("enqueueMany stores a batch and answers in input order", (store) =>
        Effect.gen(function*() {
          const inputs = Array.from({ length: 25 }, (_, i) => newJob({ payload: { i } }))
          const out = yield* store.enqueueMany(inputs)
          assert.deepStrictEqual(out.map((o) => o.job.id), inputs.map((i) => i.id))
          assert.isTrue(out.every((o) => o.created))
          const page = yield* store.list({ limit: 100 })
          assert.strictEqual(page.items.length, 25)
          assert.deepStrictEqual(yield* store.enqueueMany([]), [])
        }))

      test("get of an unknown id fails with JobNotFound", (store) =>
        Effect.gen(function*() {
          assert.strictEqual(yield* tagOf(store.get(JobId.make())), "JobNotFound")
        }))

      if (options.transaction) {
        const tx = options.transaction
        test("enqueue inside a rolled-back transaction leaves no job; a committed one does", (store) =>
          Effect.gen(function*() {
            const a = newJob()
            const b = newJob()
            const rolled = yield* Effect.exit(tx(store, store.enqueue(a), false))
            assert.isTrue(Exit.isFailure(rolled))
            assert.strictEqual(yield* tagOf(store.get(a.id)), "JobNotFound")
            yield* tx(store, store.enqueue(b), true)
            assert.strictEqual((yield* store.get(b.id)).status, "pending")
          }))
      }
    })

    describe("rule 2: one non-terminal job per (type, key)", () => {
      test("a second enqueue with the same key returns the first job", (store) =>
        Effect.gen(function*() {
          const first = yield* store.enqueue(newJob({ key: "file.pdf" }))
          const again = yield* store.enqueue(newJob({ key: "file.pdf" }))
          assert.isFalse(again.created)
          assert.strictEqual(again.job.id, first.job.id)
          const otherType = yield* store.enqueue(newJob({ key: "file.pdf", type: "other" }))
          assert.isTrue(otherType.created)
        }))

      test("a terminal job does not block a new one with its key", (store) =>
        Effect.gen(function*() {
          const first = yield* store.enqueue(newJob({ key: "k" }))
          yield* store.cancel(first.job.id)
          const second = yield* store.enqueue(newJob({ key: "k" }))
          assert.isTrue(second.created)
          assert.notStrictEqual(second.job.id, first.job.id)
          assert.strictEqual((yield* store.findByKey("test", "k")).id, second.job.id)
          assert.strictEqual(yield* tagOf(store.findByKey("test", "nope")), "JobNotFound")
        }))

      test(`${N} concurrent enqueues with one key create exactly one job`, (store) =>
        Effect.gen(function*() {
          const results = yield* Effect.all(
            Array.from({ length: N }, () => store.enqueue(newJob({ key: "same" }))),
            { concurrency: "unbounded" }
          )
          assert.strictEqual(results.filter((r) => r.created).length, 1)
          assert.strictEqual(new Set(results.map((r) => r.job.id)).size, 1)
          const batch = yield* store.enqueueMany([newJob({ key: "b" }), newJob({ key: "b" })])
          assert.deepStrictEqual(batch.map((r) => r.created), [true, false])
          assert.strictEqual(batch[1]!.job.id, batch[0]!.job.id)
          assert.strictEqual((yield* store.list({ key: "same" })).items.length, 1)
        }))
    })

    describe("rule 3: claim is atomic", () => {
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

    describe("rule 4: claim order and claimability", () => {
      test("priority desc, then runAt asc, then id asc", (store) =>
        Effect.gen(function*() {
          yield* TestClock.setTime(10_000)
          const a = newJob({ priority: 0, runAt: new Date(1_000) })
          const b = newJob({ priority: 5, runAt: new Date(9_000) })
          const c = newJob({ priority: 0, runAt: new Date(500) })
          const d = newJob({ priority: 0, runAt: new Date(1_000) })
          yield* store.enqueueMany([d, a, c, b])
          const claimed = yield* store.claim(claimReq(10))
          assert.deepStrictEqual(claimed.map((j) => j.id), [b.id, c.id, a.id < d.id ? a.id : d.id, a.id < d.id ? d.id : a.id])
        }))

      test("future runAt is not claimable until its time", (store) =>
        Effect.gen(function*() {
          yield* TestClock.setTime(1_000)
          const later = newJob({ runAt: new Date(61_000) })
          yield* store.enqueue(later)
          assert.strictEqual((yield* store.claim(claimReq(10))).length, 0)
          yield* TestClock.adjust("59 seconds")
          assert.strictEqual((yield* store.claim(claimReq(10))).length, 0)
          yield* TestClock.adjust("1 second")
          assert.deepStrictEqual((yield* store.claim(claimReq(10))).map((j) => j.id), [later.id])
        }))

      test("cancelled, completed and failed jobs are never claimed; other queues and types are not", (store) =>
        Effect.gen(function*() {
          const cancelled = yield* store.enqueue(newJob())
          yield* store.cancel(cancelled.job.id)
          yield* store.enqueue(newJob({ queue: "other" }))
          yield* store.enqueue(newJob({ type: "unknown-here" }))
          const done = yield* store.enqueue(newJob())
          const claimed = yield* claimOne(store)
          assert.strictEqual(claimed.id, done.job.id)
          yield* store.complete(lease(claimed), null)
          const failing = yield* store.enqueue(newJob())
          const f = yield* claimOne(store)
          assert.strictEqual(f.id, failing.job.id)
          yield* store.fail({ ...lease(f), message: "boom", retryAt: null })
          assert.strictEqual((yield* store.claim(claimReq(10))).length, 0)
          const other = yield* store.claim({ ...claimReq(10), queues: ["other"] })
          assert.strictEqual(other.length, 1)
        }))
    })

    describe("rule 5: group limits hold under concurrent claimers", () => {
      test(`limit 2 with ${N} concurrent claimers: never 3 processing`, (store) =>
        Effect.gen(function*() {
          yield* store.enqueueMany(Array.from({ length: 30 }, () => newJob({ groupKey: "ann", groupLimit: 2 })))
          yield* store.enqueueMany(Array.from({ length: 3 }, () => newJob({ groupKey: "bob", groupLimit: 1 })))
          yield* store.enqueueMany(Array.from({ length: 4 }, () => newJob()))
          const batches = yield* Effect.all(
            Array.from({ length: N }, (_, i) => store.claim(claimReq(3, `w${i}`))),
            { concurrency: "unbounded" }
          )
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
    })

    describe("rule 6: leases and fencing", () => {
      test("an expired lease is recovered and reclaimed; the old holder's writes are refused", (store) =>
        Effect.gen(function*() {
          const { job } = yield* store.enqueue(newJob())
          const first = yield* claimOne(store, "a", 10_000)
          yield* TestClock.adjust("5 seconds")
          assert.strictEqual((yield* store.recoverExpired()).length, 0)
          yield* TestClock.adjust("6 seconds")
          const recovered = yield* store.recoverExpired()
          assert.deepStrictEqual(recovered.map((j) => j.id), [job.id])
          assert.strictEqual(recovered[0]!.status, "retrying")
          assert.match(recovered[0]!.errors[0]!.message, /worker lost/)
          const second = yield* claimOne(store, "b", 10_000)
          assert.strictEqual(second.id, job.id)
          assert.isAbove(second.token, first.token)
          assert.strictEqual(second.attempts, 2)
          const old = lease(first)
          assert.strictEqual(yield* tagOf(store.progress(old, 50, "late")), "LeaseLost")
          assert.strictEqual(yield* tagOf(store.heartbeat(old, 10_000)), "LeaseLost")
          assert.strictEqual(yield* tagOf(store.complete(old, { late: true })), "LeaseLost")
          assert.strictEqual(yield* tagOf(store.fail({ ...old, message: "late", retryAt: null })), "LeaseLost")
          assert.strictEqual(yield* tagOf(store.cancelled(old)), "LeaseLost")
          assert.strictEqual(yield* tagOf(store.release(old)), "LeaseLost")
          const done = yield* store.complete(lease(second), { ok: true })
          assert.strictEqual(done.status, "completed")
          assert.deepStrictEqual(done.result, { ok: true })
          assert.strictEqual(yield* tagOf(store.complete(lease(second), { twice: true })), "LeaseLost")
        }))

      test("completeMany completes the held jobs in one write and refuses the others", (store) =>
        Effect.gen(function*() {
          yield* store.enqueueMany(Array.from({ length: 4 }, () => newJob()))
          const held = yield* store.claim(claimReq(4))
          const stale = { id: held[3]!.id, token: held[3]!.token + 1 }
          const gone = { id: JobId.make(), token: 1 }
          const out = yield* store.completeMany([
            { lease: lease(held[0]!), result: { n: 0 } },
            { lease: lease(held[1]!), result: { n: 1 } },
            { lease: stale, result: { n: 3 } },
            { lease: gone, result: null }
          ])
          assert.sameMembers(out.completed.map((j) => j.id), [held[0]!.id, held[1]!.id])
          assert.deepStrictEqual(out.refused, [stale, gone])
          assert.deepStrictEqual((yield* store.get(held[1]!.id)).result, { n: 1 })
          assert.strictEqual((yield* store.get(held[1]!.id)).status, "completed")
          assert.strictEqual((yield* store.get(held[3]!.id)).status, "processing")
          assert.deepStrictEqual(yield* store.completeMany([]), { completed: [], refused: [] })
        }))

      test("heartbeats extend the lease; an expired last attempt fails the job", (store) =>
        Effect.gen(function*() {
          yield* store.enqueue(newJob({ maxAttempts: 1 }))
          const held = yield* claimOne(store, "a", 10_000)
          yield* TestClock.adjust("8 seconds")
          assert.deepStrictEqual(yield* store.heartbeat(lease(held), 10_000), { cancelRequested: false })
          yield* TestClock.adjust("8 seconds")
          assert.strictEqual((yield* store.recoverExpired()).length, 0)
          yield* TestClock.adjust("3 seconds")
          const [lost] = yield* store.recoverExpired()
          assert.strictEqual(lost!.status, "failed")
          assert.isNotNull(lost!.completedAt)
        }))
    })

    describe("rule 7: progress", () => {
      test("only the holder writes progress; readers see the latest", (store) =>
        Effect.gen(function*() {
          yield* store.enqueue(newJob())
          const held = yield* claimOne(store)
          yield* store.progress(lease(held), 10, "Fetching…")
          yield* store.progress(lease(held), 42.5, "Resolving links…")
          const seen = yield* store.get(held.id)
          assert.strictEqual(seen.progress, 42.5)
          assert.strictEqual(seen.progressMessage, "Resolving links…")
          assert.strictEqual(yield* tagOf(store.progress({ id: held.id, token: held.token + 1 }, 99, "x")), "LeaseLost")
          assert.strictEqual((yield* store.get(held.id)).progress, 42.5)
          yield* store.complete(lease(held), null)
          assert.strictEqual(yield* tagOf(store.progress(lease(held), 1, null)), "LeaseLost")
          assert.strictEqual((yield* store.get(held.id)).progress, 100)
        }))
    })

    describe("rule 8: queue position", () => {
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
          assert.deepStrictEqual({ ...v, queuePosition: undefined }, { ...(yield* store.get(jobs[1]!.id)), queuePosition: undefined })
          assert.isNull((yield* store.view(urgent.id)).queuePosition)
          assert.strictEqual(yield* tagOf(store.view(JobId.make())), "JobNotFound")
        }))
    })

    describe("rule 9: the state machine", () => {
      const setup = (store: JobStoreShape, status: JobStatus) =>
        Effect.gen(function*() {
          const { job } = yield* store.enqueue(newJob({ maxAttempts: 2 }))
          if (status === "pending") return job
          if (status === "cancelled") return yield* store.cancel(job.id)
          const held = yield* claimOne(store)
          if (status === "processing") return held
          if (status === "completed") return yield* store.complete(lease(held), { ok: 1 })
          return yield* store.fail({ ...lease(held), message: "boom", retryAt: status === "retrying" ? new Date(60_000) : null })
        })

      test("processing → completed / retrying / failed / pending (release), with their fields", (store) =>
        Effect.gen(function*() {
          const completed = yield* setup(store, "completed")
          assert.strictEqual(completed.status, "completed")
          assert.deepStrictEqual(completed.result, { ok: 1 })
          assert.isNotNull(completed.completedAt)
          assert.isNull(completed.lockedBy)
          const retrying = yield* setup(store, "retrying")
          assert.strictEqual(retrying.status, "retrying")
          assert.strictEqual(retrying.nextRetryAt?.getTime(), 60_000)
          assert.strictEqual(retrying.errorMessage, "boom")
          assert.deepStrictEqual(retrying.errors.map((e) => [e.attempt, e.message]), [[1, "boom"]])
          assert.isNull(retrying.completedAt)
          const failed = yield* setup(store, "failed")
          assert.strictEqual(failed.status, "failed")
          assert.isNotNull(failed.completedAt)
          const held = yield* setup(store, "processing")
          const released = yield* store.release(lease(held))
          assert.strictEqual(released.status, "pending")
          assert.strictEqual(released.attempts, 0)
          assert.isNull(released.lockedBy)
        }))

      test("cancel: pending and retrying at once; processing by request, then by the holder", (store) =>
        Effect.gen(function*() {
          for (const status of ["pending", "retrying"] as const) {
            const job = yield* setup(store, status)
            const c = yield* store.cancel(job.id)
            assert.strictEqual(c.status, "cancelled")
            assert.isNotNull(c.completedAt)
          }
          const held = yield* setup(store, "processing")
          const requested = yield* store.cancel(held.id)
          assert.strictEqual(requested.status, "processing")
          assert.isTrue(requested.cancelRequested)
          assert.isTrue((yield* store.heartbeat(lease(held), 30_000)).cancelRequested)
          const again = yield* store.cancel(held.id)
          assert.strictEqual(again.status, "processing")
          const done = yield* store.cancelled(lease(held))
          assert.strictEqual(done.status, "cancelled")
          assert.isFalse(done.cancelRequested)
        }))

      test("refused transitions fail with InvalidTransition naming the current status", (store) =>
        Effect.gen(function*() {
          const refused: Array<[JobStatus, "cancel" | "retry" | "delete"]> = [
            ["completed", "cancel"],
            ["failed", "cancel"],
            ["cancelled", "cancel"],
            ["pending", "retry"],
            ["processing", "retry"],
            ["retrying", "retry"],
            ["completed", "retry"],
            ["processing", "delete"]
          ]
          for (const [status, action] of refused) {
            const job = yield* setup(store, status)
            const err = yield* Effect.flip(store[action](job.id))
            assert.strictEqual(err._tag, "InvalidTransition", `${action} of ${status}`)
            if (err._tag === "InvalidTransition") {
              assert.strictEqual(err.status, status)
              assert.strictEqual(err.action, action)
              assert.include(err.message, status)
            }
            assert.strictEqual((yield* store.get(job.id)).status, status, `${action} changed a ${status} job`)
          }
          for (const action of ["cancel", "retry", "delete"] as const) {
            assert.strictEqual(yield* tagOf(store[action](JobId.make())), "JobNotFound")
          }
        }))

      test("retry of failed or cancelled: same id, pending, attempts reset, errors kept", (store) =>
        Effect.gen(function*() {
          for (const status of ["failed", "cancelled"] as const) {
            const job = yield* setup(store, status)
            const again = yield* store.retry(job.id)
            assert.strictEqual(again.id, job.id)
            assert.strictEqual(again.status, "pending")
            assert.strictEqual(again.attempts, 0)
            assert.isNull(again.completedAt)
            assert.strictEqual(again.errors.length, status === "failed" ? 1 : 0)
            yield* store.cancel(job.id)
          }
        }))

      test("delete: any status but processing; the job is gone", (store) =>
        Effect.gen(function*() {
          for (const status of ["pending", "retrying", "completed", "failed", "cancelled"] as const) {
            const job = yield* setup(store, status)
            yield* store.delete(job.id)
            assert.strictEqual(yield* tagOf(store.get(job.id)), "JobNotFound")
          }
        }))
    })

    describe("rule 10: list, stats, prune", () => {
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

    describe("rule 11: change notifications", () => {
      test("enqueue and cancel requests are announced; progress and status of a watched job", (store) =>
        Effect.gen(function*() {
          const received = yield* Queue.unbounded<JobChange>()
          yield* store.changes.pipe(
            Stream.runForEach((c) => Queue.offer(received, c)),
            Effect.forkScoped({ startImmediately: true })
          )
          const next = (id: string, kind: JobChange["kind"]) =>
            Effect.gen(function*() {
              while (true) {
                const c = yield* Queue.take(received)
                if (c.id === id && c.kind === kind) return c
              }
            }).pipe(Effect.timeoutOption("5 seconds"), TestClock.withLive)
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
    })
  })
}

