/**
 * Keeping one job's lease: a heartbeat every period (or at once when asked,
 * e.g. after a resync), which also learns of cancel requests; a lost lease
 * stops the handler.
 *
 * @internal
 */
import { Effect, Queue } from "effect"
import type { Fiber } from "effect"
import type { Lease } from "../../Job.js"
import type { JobStoreShape } from "../../JobStore.js"
import type { Stopper } from "./cancellation.js"

export interface LeaseKeeper {
  /** Heartbeat now rather than at the next period. */
  readonly beatNow: () => void
  /** Start heartbeating (a child of the job's fiber). */
  readonly start: Effect.Effect<Fiber.Fiber<unknown, unknown>>
}

export const make = (
  store: JobStoreShape,
  lease: Lease,
  options: { readonly heartbeatMs: number; readonly leaseMs: number },
  stopper: Stopper
): Effect.Effect<LeaseKeeper> =>
  Effect.map(Queue.sliding<void>(1), (requests) => ({
    beatNow: () => Queue.offerUnsafe(requests, undefined),
    start: Queue.take(requests).pipe(
      Effect.timeoutOption(options.heartbeatMs),
      Effect.andThen(store.heartbeat(lease, options.leaseMs)),
      Effect.flatMap(({ cancelRequested }) => (cancelRequested ? stopper.stop("cancel") : Effect.void)),
      Effect.catchTag("LeaseLost", () => stopper.stop("leaseLost")),
      Effect.catchTag("StoreError", (e) => Effect.logWarning(`jobtrack: heartbeat failed: ${e.reason}`)),
      Effect.forever,
      Effect.forkChild
    )
  }))
