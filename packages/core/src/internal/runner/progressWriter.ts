/**
 * One job's progress, coalesced: the handler reports as often as it likes;
 * the writer takes the latest value at most once per period, and once more
 * when the handler ends.
 *
 * @internal
 */
import { Effect, Queue } from "effect"
import type { Fiber } from "effect"
import type { Lease } from "../../Job.js"
import type { JobStoreShape } from "../../JobStore.js"
import * as Storable from "../../Storable.js"
import type { Stopper } from "./cancellation.js"

type Reported = { readonly progress: number; readonly message: string | null }

export interface ProgressWriter {
  /** `JobContext.progress`: record the latest value (clamped to 0–100, two decimals). */
  readonly report: (percent: number, message?: string) => Effect.Effect<void>
  /** Write the latest value if it was not written yet. */
  readonly flush: Effect.Effect<void>
  /** The periodic writer (a child of the job's fiber). */
  readonly fiber: Fiber.Fiber<unknown, unknown>
}

export const start = (
  store: JobStoreShape,
  lease: Lease,
  progressMs: number,
  stopper: Stopper
): Effect.Effect<ProgressWriter> =>
  Effect.gen(function*() {
    let latest: Reported | null = null
    let written: Reported | null = null
    const dirty = yield* Queue.sliding<void>(1)
    const flush = Effect.suspend(() => {
      const value = latest
      if (value === null || value === written || stopper.reason === "leaseLost") return Effect.void
      written = value
      return store.progress(lease, value.progress, value.message).pipe(
        Effect.catchTag("LeaseLost", () => stopper.stop("leaseLost")),
        Effect.catchTag("StoreError", (e) => Effect.logWarning(`jobtrack: progress write failed: ${e.reason}`))
      )
    })
    const fiber = yield* Queue.take(dirty).pipe(
      Effect.andThen(flush),
      Effect.andThen(Effect.sleep(progressMs)),
      Effect.forever,
      Effect.forkChild
    )
    const report = (percent: number, message?: string) =>
      Effect.sync(() => {
        const p = Number.isFinite(percent) ? Math.min(100, Math.max(0, Math.round(percent * 100) / 100)) : 0
        latest = { progress: p, message: message === undefined ? latest?.message ?? null : Storable.storableText(message) }
        Queue.offerUnsafe(dirty, undefined)
      })
    return { report, flush, fiber }
  })
