/** Conformance, rules 21–22: durable steps (fenced, replayed) and durable sleep. */
import { assert } from "@effect/vitest"
import { Clock, Effect } from "effect"
import { TestClock } from "effect/testing"
import { claimOne, claimReq, lease, newJob, rule, tagOf } from "./harness.js"
import type { RuleModule } from "./harness.js"

export const stepRules: RuleModule = (_ctx) =>
  rule("rules 21-22: steps and durable sleep", (test) => {
    test("steps are stored with their results and read back in order by the next attempt", (store) =>
      Effect.gen(function*() {
        const { job } = yield* store.enqueue(newJob())
        assert.deepStrictEqual(yield* store.steps(job.id), [])
        const first = yield* claimOne(store, "a", 10_000)
        const started = yield* store.stepStarted(lease(first), { name: "connect", index: 0 })
        assert.strictEqual(started.status, "running")
        assert.strictEqual(started.attempts, 1)
        assert.isNotNull(started.startedAt)
        yield* TestClock.adjust("1 second")
        const done = yield* store.stepCompleted(lease(first), { name: "connect", index: 0 }, { host: "imap", n: [1, 2] })
        assert.strictEqual(done.status, "completed")
        assert.deepStrictEqual(done.result, { host: "imap", n: [1, 2] })
        assert.strictEqual(done.completedAt!.getTime() - started.startedAt!.getTime(), 1000)
        yield* store.stepStarted(lease(first), { name: "fetch", index: 1 })
        const failed = yield* store.stepFailed(lease(first), { name: "fetch", index: 1 }, "timeout")
        assert.strictEqual(failed.status, "failed")
        assert.strictEqual(failed.error, "timeout")
        yield* store.fail({ ...lease(first), message: "timeout", retryAt: new Date(0) })

        // the next attempt reads what the first recorded; the step's attempts add up
        const second = yield* claimOne(store, "b", 10_000)
        const steps = yield* store.steps(job.id)
        assert.deepStrictEqual(steps.map((s) => [s.name, s.index, s.status, s.attempts]), [
          ["connect", 0, "completed", 1],
          ["fetch", 1, "failed", 1]
        ])
        assert.deepStrictEqual(steps[0]!.result, { host: "imap", n: [1, 2] })
        assert.strictEqual(steps[0]!.jobId, job.id)
        const again = yield* store.stepStarted(lease(second), { name: "fetch", index: 1 })
        assert.strictEqual(again.attempts, 2)
        assert.strictEqual(again.status, "running")
        yield* store.stepCompleted(lease(second), { name: "fetch", index: 1 }, [])
        // the job view carries the steps, without their results
        const view = yield* store.view(job.id)
        assert.deepStrictEqual(view.steps?.map((s) => [s.name, s.status, s.attempts]), [
          ["connect", "completed", 1],
          ["fetch", "completed", 2]
        ])
        assert.notProperty(view.steps![0]!, "result")
        // a manual retry keeps them; deleting the job removes them
        yield* store.fail({ ...lease(second), message: "later", retryAt: null })
        yield* store.retry(job.id)
        assert.strictEqual((yield* store.steps(job.id)).length, 2)
        yield* store.delete(job.id)
        assert.deepStrictEqual(yield* store.steps(job.id), [])
      }))

    test("a stale holder cannot record a step (fenced like every holder's write)", (store) =>
      Effect.gen(function*() {
        const { job } = yield* store.enqueue(newJob())
        const first = yield* claimOne(store, "a", 10_000)
        yield* store.stepStarted(lease(first), { name: "one", index: 0 })
        yield* TestClock.adjust("11 seconds")
        assert.strictEqual((yield* store.recoverExpired()).length, 1)
        const second = yield* claimOne(store, "b", 10_000)
        const old = lease(first)
        assert.strictEqual(yield* tagOf(store.stepStarted(old, { name: "two", index: 1 })), "LeaseLost")
        assert.strictEqual(yield* tagOf(store.stepCompleted(old, { name: "one", index: 0 }, { late: true })), "LeaseLost")
        assert.strictEqual(yield* tagOf(store.stepFailed(old, { name: "one", index: 0 }, "late")), "LeaseLost")
        assert.strictEqual(yield* tagOf(store.sleep(old, { name: "sleep#1", index: 1 }, new Date(0))), "LeaseLost")
        const steps = yield* store.steps(job.id)
        assert.deepStrictEqual(steps.map((s) => [s.name, s.status, s.result]), [["one", "running", null]])
        yield* store.stepCompleted(lease(second), { name: "one", index: 0 }, 1)
        yield* store.complete(lease(second), null)
        assert.strictEqual(yield* tagOf(store.stepStarted(lease(second), { name: "two", index: 1 })), "LeaseLost")
        assert.deepStrictEqual((yield* store.steps(job.id)).map((s) => [s.name, s.result]), [["one", 1]])
      }))

    test("durable sleep releases the job until its wake time, keeps its steps, and is not a failed attempt", (store) =>
      Effect.gen(function*() {
        const { job } = yield* store.enqueue(newJob({ maxAttempts: 1 }))
        const held = yield* claimOne(store, "a", 10_000)
        yield* store.stepStarted(lease(held), { name: "one", index: 0 })
        yield* store.stepCompleted(lease(held), { name: "one", index: 0 }, "x")
        const wake = new Date((yield* Clock.currentTimeMillis) + 60 * 60_000)
        const slept = yield* store.sleep(lease(held), { name: "sleep#1", index: 1 }, wake)
        assert.strictEqual(slept.status, "pending")
        assert.strictEqual(slept.attempts, 0)
        assert.deepStrictEqual(slept.errors, [])
        assert.isNull(slept.lockedBy)
        assert.strictEqual(slept.runAt.getTime(), wake.getTime())
        assert.strictEqual(yield* tagOf(store.heartbeat(lease(held), 10_000)), "LeaseLost")
        // no worker holds it meanwhile, and it is not claimable before its time
        yield* TestClock.adjust("59 minutes")
        assert.deepStrictEqual(yield* store.claim(claimReq(10)), [])
        assert.deepStrictEqual(yield* store.recoverExpired(), [])
        yield* TestClock.adjust("1 minute")
        const woken = yield* claimOne(store, "b", 10_000)
        assert.strictEqual(woken.id, job.id)
        assert.strictEqual(woken.attempts, 1, "the sleep did not use up the only attempt")
        const steps = yield* store.steps(job.id)
        assert.deepStrictEqual(steps.map((s) => [s.name, s.index, s.status]), [
          ["one", 0, "completed"],
          ["sleep#1", 1, "completed"]
        ])
        assert.deepStrictEqual(steps[0]!.result, "x")
        yield* store.complete(lease(woken), { ok: true })
      }))

    test("a sleep while a cancel is requested cancels the job", (store) =>
      Effect.gen(function*() {
        const { job } = yield* store.enqueue(newJob())
        const held = yield* claimOne(store)
        yield* store.cancel(job.id)
        const slept = yield* store.sleep(lease(held), { name: "sleep#1", index: 0 }, new Date(0))
        assert.strictEqual(slept.status, "cancelled")
        assert.deepStrictEqual(yield* store.claim(claimReq(10)), [])
      }))
  })
