/**
 * Enqueue into the memory store: a job with a key joins the live job of its
 * (type, owner, key) instead of adding one (rule 2). The store cannot join
 * a host's transaction (rule 1): an enqueue given one fails.
 */
import { Clock, Effect } from "effect"
import { fromNew } from "../../Job.js"
import type { JobRecord, NewJob } from "../../Job.js"
import { StoreError } from "../../JobError.js"
import { Transaction } from "../../JobStore.js"
import type { Enqueued, JobStoreShape } from "../../JobStore.js"
import * as Due from "./Due.js"
import { announce, liveByKey, snapshot } from "./State.js"
import type { Mutable, State } from "./State.js"

/** Add a job at `now`, or find the live job of its key. */
export const insert = (state: State) => (input: NewJob, now: number): Enqueued => {
  if (input.key !== null) {
    const existing = liveByKey(state, input.type, input.owner, input.key)
    if (existing) return { job: snapshot(existing), created: false }
  }
  const job: Mutable<JobRecord> = fromNew(input, new Date(now))
  state.jobs.set(job.id, job)
  announce(state, job, "enqueued")
  // a runAt in the future: announced again when due
  Due.note(state.due, job, now)
  return { job: snapshot(job), created: true }
}

const noTransaction = Effect.flatMap(Effect.service(Transaction), (trx) =>
  trx === undefined
    ? Effect.void
    : Effect.fail(new StoreError({ reason: "MemoryStore cannot join a transaction", retryable: false })))

/** The enqueue verbs over `insert`. */
export const enqueue = (
  insert: (input: NewJob, now: number) => Enqueued
): Pick<JobStoreShape, "enqueue" | "enqueueMany"> => ({
  enqueue: (input) => Effect.flatMap(noTransaction, () => Clock.currentTimeMillis.pipe(Effect.map((now) => insert(input, now)))),
  enqueueMany: (inputs) =>
    Effect.flatMap(noTransaction, () => Clock.currentTimeMillis.pipe(Effect.map((now) => inputs.map((i) => insert(i, now)))))
})
