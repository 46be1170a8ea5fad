/**
 * Completions, batched: completions that finish while a completion write is
 * in flight go into the next write together — no added latency when idle,
 * one commit for many when busy. Each `complete` returns once its job's
 * completion is committed (or refused): durability is never traded for the
 * batching.
 *
 * @internal
 */
import { Effect, Queue } from "effect"
import type { Fiber } from "effect"
import type { Json, Lease } from "../../Job.js"
import { LeaseLost } from "../../JobError.js"
import type { StoreError } from "../../JobError.js"
import type { JobStoreShape } from "../../JobStore.js"
import { persist } from "./persist.js"

/** Told once a completion's write is over (lighter than a Deferred per completion). */
export interface Waiter {
  /** Called with nothing when the completion is committed, else with why not. Called as a method. */
  completed(failure: LeaseLost | StoreError | undefined): void
}

interface Completion {
  readonly lease: Lease
  readonly result: Json
  readonly waiter: Waiter
}

export interface CompletionBatcher {
  /** Complete the job; succeeds once the completion is committed. */
  readonly complete: (lease: Lease, result: Json) => Effect.Effect<void, LeaseLost | StoreError>
  /**
   * `complete` without a fiber: `waiter.completed` is called once the completion is committed (no
   * argument) or refused (the job's run is its own waiter: no closure per job).
   */
  readonly completeUnsafe: (lease: Lease, result: Json, waiter: Waiter) => void
  /** The writing fiber (interrupted at the end of shutdown). */
  readonly fiber: Fiber.Fiber<unknown, unknown>
}

/** At most this many completions per write. */
const maxBatch = 200

export const start = (store: JobStoreShape, leaseMs: number): Effect.Effect<CompletionBatcher> =>
  Effect.gen(function*() {
    const completions = yield* Queue.unbounded<Completion>()
    const fiber = yield* Effect.gen(function*() {
      while (true) {
        const batch = yield* Queue.takeBetween(completions, 1, maxBatch)
        const outcome = yield* Effect.result(persist(store.completeMany(batch), leaseMs))
        if (outcome._tag === "Failure") {
          for (const c of batch) c.waiter.completed(outcome.failure)
          continue
        }
        const { completed, refused } = outcome.success
        // nearly always every one: no set of ids to look them up in
        const done = refused.length === 0 && completed.length === batch.length ? undefined : new Set(completed)
        for (const c of batch) {
          c.waiter.completed(done === undefined || done.has(c.lease.id) ? undefined : new LeaseLost(c.lease))
        }
      }
    }).pipe(Effect.forkDetach)
    const completeUnsafe = (lease: Lease, result: Json, waiter: Waiter) => {
      Queue.offerUnsafe(completions, { lease, result, waiter })
    }
    const complete = (lease: Lease, result: Json) =>
      Effect.callback<void, LeaseLost | StoreError>((resume) => {
        completeUnsafe(lease, result, {
          completed: (failure) => resume(failure === undefined ? Effect.void : Effect.fail(failure))
        })
      })
    return { complete, completeUnsafe, fiber }
  })
