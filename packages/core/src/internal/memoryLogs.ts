/**
 * MemoryStore's attempt logs (`JobLogStore`): lines kept beside each job
 * record in a WeakMap, so they go with the job when it is deleted or pruned.
 */
import { Clock, Effect } from "effect"
import type { JobRecord, Lease } from "../Job.js"
import type { JobNotFound, LeaseLost } from "../JobError.js"
import type { JobLogStoreShape, LogLine } from "../JobLogStore.js"
import { maxLinesPerJob } from "../JobLogStore.js"

export const make = (
  find: (id: string) => Effect.Effect<JobRecord, JobNotFound>,
  held: (lease: Lease) => Effect.Effect<JobRecord, LeaseLost>
): JobLogStoreShape => {
  const kept = new WeakMap<JobRecord, Array<LogLine>>()
  return {
    appendLogs: (lease, lines) =>
      Effect.flatMap(held(lease), (job) =>
        Effect.map(Clock.currentTimeMillis, () => {
          if (lines.length === 0) return
          const all = [...(kept.get(job) ?? []), ...lines.map((l) => ({ ...l }))]
          kept.set(job, all.length > maxLinesPerJob ? all.slice(all.length - maxLinesPerJob) : all)
        })),
    logs: (id) => Effect.map(find(id), (job) => (kept.get(job) ?? []).map((l) => ({ ...l })))
  }
}
