/** Conformance, rule 11: change notifications. */
import { assert } from "@effect/vitest"
import { Effect, Option, Queue, Stream } from "effect"
import { TestClock } from "effect/testing"
import type { JobChange, JobChanged, JobStoreShape } from "../JobStore.js"
import { claimOne, lease, newJob, rule } from "./harness.js"
import type { RuleModule } from "./harness.js"

/**
 * Subscribe to the store's changes (open once `Stream.toPull` returns: a
 * store may start listening at the first subscription); `next(id, kind)` waits (at most 5 s of
 * real time) for that change of that job.
 */
const listen = (store: JobStoreShape) =>
  Effect.gen(function*() {
    const received = yield* Queue.unbounded<JobChange>()
    // subscribed when `toPull` returns (a store may start listening only then)
    const pull = yield* Stream.toPull(store.changes)
    yield* Stream.fromPull(Effect.succeed(pull)).pipe(
      Stream.runForEach((c) => Queue.offer(received, c)),
      Effect.forkScoped({ startImmediately: true })
    )
    return (id: string, kind: JobChanged["kind"]) =>
      Effect.gen(function*() {
        while (true) {
          const c = yield* Queue.take(received)
          if (c.kind !== "resync" && c.kind !== "queueChanged" && c.id === id && c.kind === kind) return c
        }
      }).pipe(Effect.timeoutOption("5 seconds"), TestClock.withLive)
  })

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
