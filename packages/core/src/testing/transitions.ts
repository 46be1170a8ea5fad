/** Conformance, rule 9: the state machine. */
import { assert } from "@effect/vitest"
import { Effect } from "effect"
import type { JobStatus } from "../Job.js"
import * as JobId from "../JobId.js"
import type { JobStoreShape } from "../JobStore.js"
import { claimOne, lease, newJob, rule, tagOf } from "./harness.js"
import type { RuleModule } from "./harness.js"

export const transitionRules: RuleModule = (_ctx) =>
  rule("rule 9: the state machine", (test) => {
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

    test("a failed attempt's entry carries its start, worker and stack (retrying and failed alike)", (store) =>
      Effect.gen(function*() {
        for (const retryAt of [null, new Date(60_000)]) {
          yield* store.enqueue(newJob({ maxAttempts: 2 }))
          const held = yield* claimOne(store)
          const after = yield* store.fail({ ...lease(held), message: "boom", retryAt, stack: "Error: boom\n    at handler" })
          const entry = after.errors[after.errors.length - 1]!
          assert.strictEqual(entry.stack, "Error: boom\n    at handler")
          assert.strictEqual(entry.attempt, held.attempts)
          assert.strictEqual(entry.startedAt?.getTime(), held.startedAt?.getTime())
          assert.isDefined(entry.startedAt)
          assert.strictEqual(entry.worker, held.lockedBy)
          assert.isDefined(entry.worker)
        }
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

    test("cancelled: the holder may cancel a processing job that had no cancel request", (store) =>
      Effect.gen(function*() {
        const held = yield* setup(store, "processing")
        assert.isFalse(held.cancelRequested)
        const done = yield* store.cancelled(lease(held))
        assert.strictEqual(done.status, "cancelled")
        assert.isNotNull(done.completedAt)
        assert.isNull(done.lockedBy)
        assert.strictEqual((yield* store.get(held.id)).status, "cancelled")
        assert.strictEqual(yield* tagOf(store.cancelled(lease(held))), "LeaseLost")
      }))
  })
