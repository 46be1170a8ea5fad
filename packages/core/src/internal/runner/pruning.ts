/**
 * Pruning: every `every`, delete terminal jobs older than `after`.
 *
 * @internal
 */
import { Clock, Effect } from "effect"
import type { Duration, Fiber } from "effect"
import type { JobStoreShape } from "../../JobStore.js"
import { ms } from "./state.js"

export const start = (
  store: JobStoreShape,
  prune: { readonly after: Duration.Input; readonly every: Duration.Input }
): Effect.Effect<Fiber.Fiber<unknown, unknown>> =>
  Effect.gen(function*() {
    while (true) {
      yield* Effect.sleep(prune.every)
      const now = yield* Clock.currentTimeMillis
      const n = yield* store.prune(new Date(now - ms(prune.after))).pipe(
        Effect.catchTag("StoreError", (e) => Effect.logWarning(`jobtrack: prune failed: ${e.reason}`).pipe(Effect.as(0)))
      )
      if (n > 0) yield* Effect.logDebug(`jobtrack: pruned ${n} jobs`)
    }
  }).pipe(Effect.forkDetach)
