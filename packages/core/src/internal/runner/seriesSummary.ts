/**
 * The chart summary in the background: every `every`, summarize what is due
 * for `series` in bounded steps (`AdminStore.summarizeSeries`), step after
 * step while more is due. The store takes a try-lock per step, so among many
 * runners on many machines one summarizes at a time and the others go on.
 * A failed step, whatever the failure, is logged and tried again next period.
 * Nothing to do for a store without the verb (MemoryStore bins at each read).
 *
 * @internal
 */
import { Cause, Effect } from "effect"
import type { Duration, Fiber } from "effect"
import type { JobStoreShape } from "../../JobStore.js"

export const start = (
  store: JobStoreShape,
  options: { readonly every: Duration.Input }
): Effect.Effect<Fiber.Fiber<unknown, unknown> | undefined> => {
  const step = store.summarizeSeries
  if (step === undefined) return Effect.succeed(undefined)
  const catchUp = Effect.gen(function*() {
    while ((yield* step()).more) yield* Effect.yieldNow
  }).pipe(
    Effect.catchTag("StoreError", (e) => Effect.logWarning(`jobtrack: chart summary failed: ${e.reason}`)),
    // anything else (a defect) is logged too, and the next period tries again: the loop must not
    // end silently for the life of the process; an interruption (shutdown) still stops it
    Effect.catchCause((cause) =>
      Cause.hasInterruptsOnly(cause)
        ? Effect.failCause(cause)
        : Effect.logError("jobtrack: chart summary failed", cause))
  )
  return Effect.gen(function*() {
    while (true) {
      yield* catchUp
      yield* Effect.sleep(options.every)
    }
  }).pipe(Effect.forkDetach)
}
