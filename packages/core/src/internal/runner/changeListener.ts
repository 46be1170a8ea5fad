/**
 * What a runner does with the store's announcements: an enqueue of a job it
 * can run wakes the claim loop; a cancel request stops the job it holds; a
 * resync (announcements may have been lost) re-checks every held job's cancel
 * request and looks for jobs.
 *
 * @internal
 */
import { Effect } from "effect"
import type { Fiber } from "effect"
import * as ChangeSubscription from "../changeSubscription.js"
import type { RunnerState } from "./state.js"

export const start = (state: RunnerState): Effect.Effect<Fiber.Fiber<void, unknown>> => {
  const { queues, types } = state.settings
  const poke = Effect.sync(state.announce)
  // open before the first claim: an enqueue after that claim is heard
  return ChangeSubscription.open(state.store, (change) => {
    if (change.kind === "resync") {
      for (const r of state.running.values()) r.beatNow()
      return poke
    }
    if (change.kind === "cancelRequested") {
      const r = state.running.get(change.id)
      return r ? r.stop("cancel") : Effect.void
    }
    if (change.kind === "enqueued" && queues.includes(change.queue) && types.includes(change.type)) return poke
    return Effect.void
  })
}
