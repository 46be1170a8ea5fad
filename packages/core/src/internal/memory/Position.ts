/**
 * A pending job's place in its queue in the memory store, and the job's
 * view (the record with its place and its durable steps).
 */
import { Clock, Effect } from "effect"
import { claimOrder, isClaimable } from "../../Job.js"
import type { JobRecord } from "../../Job.js"
import type { JobStoreShape } from "../../JobStore.js"
import * as QueuePosition from "../../QueuePosition.js"
import type { StepInfo } from "../../StepStore.js"
import { find, runningPerGroup, snapshot } from "./State.js"
import type { State } from "./State.js"

/**
 * Rule 8, bounded: the claimable jobs of the job's queue before it in claim
 * order, walked from the front as a store walks its claim index, each
 * counted when it will start before the job (`QueuePosition.fromWalk`). Its
 * own group's jobs ahead always do; another group's job only while that group
 * has room for it: running jobs of its group plus the jobs of its group ahead
 * of it stay below its limit.
 */
const place = (state: State, job: JobRecord, now: number): QueuePosition.QueuePosition => {
  const running = runningPerGroup(state)
  const ahead = [...state.jobs.values()]
    .filter((other) => other.queue === job.queue && other !== job && isClaimable(other, now) && claimOrder(other, job) < 0)
    .sort(claimOrder)
  const seen = new Map<string, number>()
  const counts = ahead.map((other) => {
    if (other.groupKey === null || other.groupLimit === null || other.groupKey === job.groupKey) return true
    const before = seen.get(other.groupKey) ?? 0
    seen.set(other.groupKey, before + 1)
    return (running.get(other.groupKey) ?? 0) + before < other.groupLimit
  })
  return QueuePosition.fromWalk(counts)
}

export const position = (
  state: State,
  /** The job's durable steps as its view shows them. */
  steps: (job: JobRecord) => ReadonlyArray<StepInfo>
): Pick<JobStoreShape, "queuePosition" | "view"> => {
  const queuePosition: JobStoreShape["queuePosition"] = (id) =>
    Effect.flatMap(find(state, id), (job) =>
      Clock.currentTimeMillis.pipe(Effect.map((now) => job.status === "pending" ? place(state, job, now) : null)))
  return {
    queuePosition,
    view: (id) =>
      Effect.flatMap(find(state, id), (job) =>
        Effect.map(queuePosition(id), (place) => ({
          ...snapshot(job),
          ...QueuePosition.fields(place),
          steps: steps(job)
        })))
  }
}
