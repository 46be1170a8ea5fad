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
import type { JobRecord, Json, Lease } from "../../Job.js"
import { LeaseLost } from "../../JobError.js"
import type { StoreError } from "../../JobError.js"
import type { JobStoreShape } from "../../JobStore.js"
import { persist } from "./persist.js"

interface Completion {
  readonly lease: Lease
  readonly result: Json
  /** Resumes the waiting job's fiber (a callback, lighter than a Deferred per completion). */
  readonly resume: (outcome: Effect.Effect<JobRecord, LeaseLost | StoreError>) => void
}

export interface CompletionBatcher {
  /** Complete the job; succeeds once the completion is committed. */
  readonly complete: (lease: Lease, result: Json) => Effect.Effect<JobRecord, LeaseLost | StoreError>
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
        const byId = new Map(outcome.success.completed.map((job) => [job.id, job]))
        for (const c of batch) {
          const job = byId.get(c.lease.id)
          c.resume(job ? Effect.succeed(job) : Effect.fail(new LeaseLost(c.lease)))
        }
      }
    }).pipe(Effect.forkDetach)
    const complete = (lease: Lease, result: Json) =>
      Effect.callback<JobRecord, LeaseLost | StoreError>((resume) => {
        Queue.offerUnsafe(completions, { lease, result, resume })
      })
    return { complete, fiber }
  })
