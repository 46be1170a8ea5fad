/** Conformance, rule 6: leases and fencing. */
import { assert } from "@effect/vitest"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import * as JobId from "../JobId.js"
import { claimOne, claimReq, lease, newJob, rule, tagOf } from "./harness.js"
import type { RuleModule } from "./harness.js"

export const leaseRules: RuleModule = (_ctx) =>
  rule("rule 6: leases and fencing", (test) => {
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
        // a new token, not necessarily a larger one (the SQL store draws it at random)
        assert.notStrictEqual(second.token, first.token)
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
        assert.sameMembers([...out.completed], [held[0]!.id, held[1]!.id])
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
