/**
 * The holder's writes on a claimed job in the memory store, each refused
 * with `LeaseLost` unless the lease still holds it (processing, same token):
 * heartbeat, progress, complete, completeMany, fail, cancelled, release and
 * a durable step's sleep; and `recoverExpired` for leases nobody renewed. A
 * job claimable again at once is announced as enqueued (rule 11); one
 * claimable later (a retry's delay, a sleep) when its time comes (`Due`).
 */
import { Clock, Effect } from "effect"
import type { AttemptError, JobRecord } from "../../Job.js"
import type { JobStoreShape } from "../../JobStore.js"
import * as Due from "./Due.js"
import { announce, held, settle } from "./State.js"
import type { Mutable, State } from "./State.js"

/** The entry for the attempt that just ended: its start and worker from the row, before it is settled. */
const attemptError = (job: JobRecord, message: string, now: number, stack?: string): AttemptError => ({
  attempt: job.attempts,
  message,
  at: new Date(now),
  ...(job.startedAt === null ? {} : { startedAt: job.startedAt }),
  ...(job.lockedBy === null ? {} : { worker: job.lockedBy }),
  ...(stack === undefined ? {} : { stack })
})

export const lifecycle = (
  state: State
): Pick<
  JobStoreShape,
  "heartbeat" | "progress" | "complete" | "completeMany" | "fail" | "cancelled" | "release" | "recoverExpired"
> => {
  const complete: JobStoreShape["complete"] = (lease, result) =>
    Effect.flatMap(held(state, lease), (job) =>
      Clock.currentTimeMillis.pipe(Effect.map((now) => {
        job.result = result
        job.progress = 100
        job.errorMessage = null
        return settle(state, job, "completed", now)
      })))
  return {
    heartbeat: (lease, leaseMs) =>
      Effect.flatMap(held(state, lease), (job) =>
        Clock.currentTimeMillis.pipe(Effect.map((now) => {
          job.lockedUntil = new Date(now + leaseMs)
          return { cancelRequested: job.cancelRequested }
        }))),
    progress: (lease, progress, message) =>
      Effect.flatMap(held(state, lease), (job) =>
        Clock.currentTimeMillis.pipe(Effect.map((now) => {
          job.progress = progress
          job.progressMessage = message
          job.updatedAt = new Date(now)
          announce(state, job, "progress")
        }))),
    complete,
    completeMany: (items) =>
      Effect.map(
        Effect.forEach(items, ({ lease, result }) => Effect.result(complete(lease, result))),
        (results) => ({
          completed: results.flatMap((r) => (r._tag === "Success" ? [r.success.id] : [])),
          refused: items.flatMap((item, i) => (results[i]!._tag === "Failure" ? [item.lease] : []))
        })
      ),
    fail: ({ message, retryAt, stack, ...lease }) =>
      Effect.flatMap(held(state, lease), (job) =>
        Clock.currentTimeMillis.pipe(Effect.map((now) => {
          job.errorMessage = message
          job.errors = [...job.errors, attemptError(job, message, now, stack)]
          if (retryAt === null) return settle(state, job, "failed", now)
          job.runAt = retryAt
          job.nextRetryAt = retryAt
          const view = settle(state, job, "retrying", now)
          // claimable at once: announced as the Kysely store does (rule 11), so every runner wakes;
          // later: announced when due (the Kysely store's runners find it at their poll)
          if (retryAt.getTime() <= now) announce(state, job, "enqueued")
          else Due.note(state.due, job, now)
          return view
        }))),
    cancelled: (lease) =>
      Effect.flatMap(held(state, lease), (job) =>
        Clock.currentTimeMillis.pipe(Effect.map((now) => settle(state, job, "cancelled", now)))),
    release: (lease) =>
      Effect.flatMap(held(state, lease), (job) =>
        Clock.currentTimeMillis.pipe(Effect.map((now) => {
          const cancel = job.cancelRequested
          job.attempts--
          const view = settle(state, job, cancel ? "cancelled" : "pending", now)
          if (!cancel) announce(state, job, "enqueued")
          return view
        }))),
    recoverExpired: () =>
      Clock.currentTimeMillis.pipe(Effect.map((now) => {
        const moved: Array<JobRecord> = []
        for (const job of state.jobs.values()) {
          if (job.status !== "processing" || job.lockedUntil === null || job.lockedUntil.getTime() > now) continue
          const message = `worker lost: lease held by ${job.lockedBy} expired`
          job.errorMessage = message
          job.errors = [...job.errors, attemptError(job, message, now)]
          if (job.cancelRequested) moved.push(settle(state, job, "cancelled", now))
          else if (job.attempts < job.maxAttempts) {
            job.runAt = new Date(now)
            job.nextRetryAt = new Date(now)
            moved.push(settle(state, job, "retrying", now))
            announce(state, job, "enqueued")
          } else moved.push(settle(state, job, "failed", now))
        }
        return moved
      }))
  }
}

/** A durable step's sleep: the held job back to pending at `until`, the attempt not counted (or cancelled, if asked). */
export const sleep = (state: State) => (job: Mutable<JobRecord>, until: Date, now: number): JobRecord => {
  const cancel = job.cancelRequested
  job.attempts--
  job.runAt = until
  const view = settle(state, job, cancel ? "cancelled" : "pending", now)
  // claimable at once: announced as the Kysely store's trigger does (rule 11), so every runner wakes
  if (!cancel && until.getTime() <= now) announce(state, job, "enqueued")
  else if (!cancel) Due.note(state.due, job, now)
  return view
}
