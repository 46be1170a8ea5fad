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

interface Completion {
  readonly lease: Lease
  readonly result: Json
  /** Resumes the waiting job's fiber (a callback, lighter than a Deferred per completion). */
  readonly resume: (outcome: Effect.Effect<void, LeaseLost | StoreError>) => void
}

export interface CompletionBatcher {
  /** Complete the job; succeeds once the completion is committed. */
  readonly complete: (lease: Lease, result: Json) => Effect.Effect<void, LeaseLost | StoreError>
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
          const failed = Effect.fail(outcome.failure)
          for (const c of batch) c.resume(failed)
          continue
        }
        const done = new Set(outcome.success.completed)
        for (const c of batch) {
          c.resume(done.has(c.lease.id) ? Effect.void : Effect.fail(new LeaseLost(c.lease)))
        }
      }
    }).pipe(Effect.forkDetach)
    const complete = (lease: Lease, result: Json) =>
      Effect.callback<void, LeaseLost | StoreError>((resume) => {
        Queue.offerUnsafe(completions, { lease, result, resume })
      })
    return { complete, fiber }
  })
