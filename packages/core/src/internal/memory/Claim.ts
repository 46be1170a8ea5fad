/**
 * Claim in the memory store: the claimable jobs of the asked queues and types
 * in claim order, each taken unless its concurrency group is full, under a
 * fresh lease (the token moves on, so an older holder's writes are refused).
 */
import { Clock, Effect } from "effect"
import { claimOrder, isClaimable } from "../../Job.js"
import type { JobRecord } from "../../Job.js"
import type { JobStoreShape } from "../../JobStore.js"
import { announce, runningPerGroup, snapshot } from "./State.js"
import type { State } from "./State.js"

export const claim = (state: State): JobStoreShape["claim"] => ({ leaseMs, limit, queues, types, workerId }) =>
  Clock.currentTimeMillis.pipe(Effect.map((now) => {
    const running = runningPerGroup(state)
    const candidates = [...state.jobs.values()]
      .filter((job) => queues.includes(job.queue) && types.includes(job.type) && isClaimable(job, now))
      .sort(claimOrder)
    const claimed: Array<JobRecord> = []
    for (const job of candidates) {
      if (claimed.length >= limit) break
      if (job.groupKey !== null) {
        const n = running.get(job.groupKey) ?? 0
        if (n >= (job.groupLimit ?? Infinity)) continue
        running.set(job.groupKey, n + 1)
      }
      job.status = "processing"
      job.attempts++
      job.token++
      job.lockedBy = workerId
      job.lockedUntil = new Date(now + leaseMs)
      job.startedAt = new Date(now)
      job.nextRetryAt = null
      job.cancelRequested = false
      job.updatedAt = new Date(now)
      announce(state, job, "status")
      claimed.push(snapshot(job))
    }
    return claimed
  }))
