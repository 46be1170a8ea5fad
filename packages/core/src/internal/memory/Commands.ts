/**
 * The operator's commands on a job in the memory store: cancel (at once
 * when waiting, asked of its holder when processing), retry (a failed or
 * cancelled job, unless its key has a live job again) and delete (anything
 * but a processing job). A command on a status it does not apply to fails
 * with `InvalidTransition`.
 */
import { Clock, Effect } from "effect"
import { InvalidTransition } from "../../JobError.js"
import type { JobStoreShape } from "../../JobStore.js"
import { announce, find, liveByKey, settle, snapshot } from "./State.js"
import type { State } from "./State.js"

export const commands = (state: State): Pick<JobStoreShape, "cancel" | "retry" | "delete"> => ({
  cancel: (id) =>
    Effect.flatMap(find(state, id), (job) =>
      Clock.currentTimeMillis.pipe(Effect.flatMap((now) => {
        if (job.status === "pending" || job.status === "retrying") {
          job.nextRetryAt = null
          return Effect.succeed(settle(state, job, "cancelled", now))
        }
        if (job.status === "processing") {
          if (!job.cancelRequested) {
            job.cancelRequested = true
            job.updatedAt = new Date(now)
            announce(state, job, "cancelRequested")
          }
          return Effect.succeed(snapshot(job))
        }
        return Effect.fail(new InvalidTransition({ id, action: "cancel", status: job.status }))
      }))),
  retry: (id) =>
    Effect.flatMap(find(state, id), (job) =>
      Clock.currentTimeMillis.pipe(Effect.flatMap((now) => {
        if (job.status !== "failed" && job.status !== "cancelled") {
          return Effect.fail(new InvalidTransition({ id, action: "retry", status: job.status }))
        }
        if (job.key !== null) {
          const live = liveByKey(state, job.type, job.owner, job.key)
          if (live) return Effect.fail(new InvalidTransition({ id, action: "retry", status: job.status }))
        }
        job.attempts = 0
        job.progress = 0
        job.progressMessage = null
        job.runAt = new Date(now)
        job.nextRetryAt = null
        job.startedAt = null
        job.completedAt = null
        job.result = null
        const view = settle(state, job, "pending", now)
        announce(state, job, "enqueued")
        return Effect.succeed(view)
      }))),
  delete: (id) =>
    Effect.flatMap(find(state, id), (job) => {
      if (job.status === "processing") {
        return Effect.fail(new InvalidTransition({ id, action: "delete", status: job.status }))
      }
      state.jobs.delete(id)
      announce(state, job, "deleted")
      return Effect.void
    })
})
