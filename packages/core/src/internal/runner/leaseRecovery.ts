/**
 * Lease recovery: on its own period rather than in the claim loop (whose
 * wakes and back-offs would stretch the gap between checks), so a job whose
 * holder died is recovered at most one period after its lease expires. The
 * store records the hook deliveries of the jobs it fails or cancels.
 *
 * @internal
 */
import { Effect } from "effect"
import type { Fiber } from "effect"
import type { RunnerState } from "./state.js"

export const start = (state: RunnerState): Effect.Effect<Fiber.Fiber<unknown, unknown>> =>
  Effect.gen(function*() {
    const recovered = yield* state.store.recoverExpired()
    // the recovered jobs due again are announced by the store to every runner (rule 11)
    for (const job of recovered) yield* state.log("lease expired; recovered", job)
  }).pipe(
    Effect.catchTag("StoreError", (e) => Effect.logWarning(`jobtrack: lease recovery failed: ${e.reason}`)),
    Effect.andThen(Effect.sleep(Math.min(state.settings.pollMs, state.settings.leaseMs / 2))),
    Effect.forever,
    Effect.forkDetach
  )
