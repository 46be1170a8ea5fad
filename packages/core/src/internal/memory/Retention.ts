/**
 * Retention in the memory store: finished jobs completed before a time are
 * deleted (their steps and logs go with their records), and hook deliveries
 * created before it.
 */
import { Effect } from "effect"
import { isTerminal } from "../../Job.js"
import type { JobStoreShape } from "../../JobStore.js"
import type { State } from "./State.js"

export const prune = (state: State): JobStoreShape["prune"] => (before) =>
  Effect.sync(() => {
    let n = 0
    for (const job of state.jobs.values()) {
      if (isTerminal(job.status) && job.completedAt !== null && job.completedAt < before) {
        state.jobs.delete(job.id)
        n++
      }
    }
    for (const d of state.deliveries.values()) if (d.createdAt < before) state.deliveries.delete(d.id)
    return n
  })
