/**
 * Conformance, rules F1–F2: while a status feed is open (`watchingAll`),
 * every job's status changes are announced, as the job's own change or as a
 * coarse `queueChanged` of its queue and type; registrations nest.
 *
 * @since 0.2.0
 */
import { assert } from "@effect/vitest"
import { Effect, Exit, Option, Scope } from "effect"
import type { JobStatus } from "../Job.js"
import type { JobChange, JobStoreShape } from "../JobStore.js"
import { claimOne, lease, newJob, rule, subscribeChanges } from "./harness.js"
import type { RuleModule } from "./harness.js"

/**
 * Subscribe to the store's changes; `next(job, status)` waits (at most 5 s of
 * real time) for the announcement that `job` (of type "test", queue
 * "default") reached `status`, in either form.
 */
const listen = (store: JobStoreShape) =>
  Effect.map(subscribeChanges(store), (next) => (id: string, status: JobStatus) =>
    next((c): c is Exclude<JobChange, { readonly kind: "resync" }> =>
      (c.kind === "queueChanged" && c.queue === "default" && c.type === "test" && c.status === status) ||
      (c.kind === "status" && c.id === id && c.status === status)
    ))

/**
 * @since 0.2.0
 * @category testing
 */
export const statusFeedRules: RuleModule = (_ctx) =>
  rule("status feed (rules F1–F2)", (test) => {
    test("rule F1: while a feed is open, unwatched jobs' status changes are announced", (store) =>
      Effect.gen(function*() {
        const next = yield* listen(store)
        yield* store.watchingAll
        const { job } = yield* store.enqueue(newJob())
        const held = yield* claimOne(store)
        assert.isTrue(Option.isSome(yield* next(job.id, "processing")), "the claim was not announced")
        yield* store.complete(lease(held), null)
        assert.isTrue(Option.isSome(yield* next(job.id, "completed")), "the completion was not announced")
        const { job: other } = yield* store.enqueue(newJob({ maxAttempts: 1 }))
        const otherHeld = yield* claimOne(store)
        yield* store.fail({ ...lease(otherHeld), message: "boom", retryAt: null })
        assert.isTrue(Option.isSome(yield* next(other.id, "failed")), "the failure was not announced")
      }))

    test("rule F2: registrations nest: closing one keeps the feed of another open", (store) =>
      Effect.gen(function*() {
        const next = yield* listen(store)
        yield* store.watchingAll
        const second = yield* Scope.make()
        yield* store.watchingAll.pipe(Scope.provide(second))
        yield* Scope.close(second, Exit.void)
        const { job } = yield* store.enqueue(newJob())
        const held = yield* claimOne(store)
        yield* store.complete(lease(held), null)
        assert.isTrue(Option.isSome(yield* next(job.id, "completed")), "the completion was not announced")
      }))
  })
