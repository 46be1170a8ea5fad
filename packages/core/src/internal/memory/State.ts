/**
 * What every part of the memory store shares: its job records and hook
 * deliveries, the hooks some process has, and the change feed; the reads a
 * verb starts from (a job by id, a job held under a lease, the live job of a
 * key) and `settle`, the write that moves a job to a new status and records
 * its hook delivery in the same step (rule 12). Every operation of the store
 * is one synchronous step, so it is atomic by construction.
 */
import { Effect } from "effect"
import type { PubSub } from "effect"
import { isTerminal } from "../../Job.js"
import type { JobRecord, JobStatus, Lease } from "../../Job.js"
import { JobNotFound, LeaseLost } from "../../JobError.js"
import * as JobId from "../../JobId.js"
import type { HookDelivery, HookEvent, JobChange, JobChanged } from "../../JobStore.js"
import * as EffectModules from "../effectModules.js"
import * as Due from "./Due.js"

export type Mutable<T> = { -readonly [K in keyof T]: T[K] }

/** The memory store's state. */
export interface State {
  readonly jobs: Map<string, Mutable<JobRecord>>
  readonly deliveries: Map<string, Mutable<HookDelivery>>
  /** `type\0event` pairs some process has a hook for. */
  readonly subscribed: Set<string>
  /** Every change, as it happens. */
  readonly pubsub: PubSub.PubSub<JobChange>
  readonly publish: (change: JobChange) => void
  /** When the delayed jobs become due, to announce them then. */
  readonly due: Due.Due
}

/** An empty state (loads effect's PubSub, issue 13, item 6). */
export const make: Effect.Effect<State> = Effect.gen(function*() {
  const PubSub = yield* EffectModules.PubSub.load
  const pubsub = yield* PubSub.unbounded<JobChange>()
  return {
    jobs: new Map(),
    deliveries: new Map(),
    subscribed: new Set(),
    pubsub,
    publish: (change) => void PubSub.publishUnsafe(pubsub, change),
    due: Due.make()
  }
})

/** Publish a change of a job. */
export const announce = (state: State, job: JobRecord, kind: JobChanged["kind"]) =>
  state.publish({ id: job.id, type: job.type, queue: job.queue, kind, status: job.status })

/** A copy of a record that later writes do not change. */
export const snapshot = (job: JobRecord): JobRecord => ({ ...job, errors: [...job.errors] })

export const find = (state: State, id: string) => {
  const job = state.jobs.get(id)
  return job ? Effect.succeed(job) : Effect.fail(new JobNotFound({ id }))
}

/** The job this lease holds: still processing under the lease's token. */
export const held = (state: State, lease: Lease) => {
  const job = state.jobs.get(lease.id)
  return job && job.status === "processing" && job.token === lease.token
    ? Effect.succeed(job)
    : Effect.fail(new LeaseLost({ id: lease.id, token: lease.token }))
}

/** The live job of this (type, owner, key): key dedupe is per owner (rule 2). */
export const liveByKey = (state: State, type: string, owner: string | null, key: string) => {
  for (const job of state.jobs.values()) {
    if (job.type === type && job.owner === owner && job.key === key && !isTerminal(job.status)) return job
  }
  return undefined
}

/** How many jobs of each concurrency group are processing. */
export const runningPerGroup = (state: State): Map<string, number> => {
  const running = new Map<string, number>()
  for (const job of state.jobs.values()) {
    if (job.status === "processing" && job.groupKey !== null) {
      running.set(job.groupKey, (running.get(job.groupKey) ?? 0) + 1)
    }
  }
  return running
}

/** Move a job to `status`: unlocked, announced, and its hook delivery recorded when someone has the hook. */
export const settle = (state: State, job: Mutable<JobRecord>, status: JobStatus, now: number) => {
  job.status = status
  job.lockedBy = null
  job.lockedUntil = null
  job.cancelRequested = false
  job.updatedAt = new Date(now)
  if (isTerminal(status)) job.completedAt = new Date(now)
  announce(state, job, "status")
  // rule 12: the hook delivery is part of the same (synchronous) write, when someone has the hook
  if (isTerminal(status) && state.subscribed.has(`${job.type}\u0000${status}`)) record(state, job, status as HookEvent, now)
  return snapshot(job)
}

const record = (state: State, job: JobRecord, event: HookEvent, now: number) => {
  const delivery: Mutable<HookDelivery> = {
    id: JobId.make(),
    jobId: job.id,
    type: job.type,
    event,
    job: snapshot(job),
    status: "pending",
    attempts: 0,
    token: 0,
    lockedBy: null,
    availableAt: new Date(now),
    lastError: null,
    createdAt: new Date(now)
  }
  state.deliveries.set(delivery.id, delivery)
  state.publish({ id: job.id, type: job.type, queue: job.queue, kind: "hook", status: event })
}
