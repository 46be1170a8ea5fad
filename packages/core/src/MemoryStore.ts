/**
 * A `JobStore` in the memory of one process: for tests, local development
 * and single-process apps that can afford to lose jobs on exit. Every
 * operation is one synchronous step, so it is atomic by construction.
 *
 * @since 0.1.0
 */
import { Clock, Effect, Layer } from "effect"
import { claimOrder, isClaimable, isTerminal } from "./Job.js"
import type { JobRecord, Lease } from "./Job.js"
import { JobNotFound, LeaseLost } from "./JobError.js"
import { JobStore } from "./JobStore.js"
import type { HookDelivery, JobStoreShape, Stats } from "./JobStore.js"
import * as MemorySteps from "./internal/memorySteps.js"
import * as MemoryLogs from "./internal/memoryLogs.js"
import { computeStats } from "./internal/stats.js"
import * as MemoryAdmin from "./MemoryAdmin.js"
import * as QueuePosition from "./QueuePosition.js"
import { memorySchedules } from "./internal/memorySchedules.js"
import { changes } from "./internal/memory/Changes.js"
import { claim } from "./internal/memory/Claim.js"
import { commands } from "./internal/memory/Commands.js"
import * as Enqueue from "./internal/memory/Enqueue.js"
import { lifecycle, sleep } from "./internal/memory/Lifecycle.js"
import * as State from "./internal/memory/State.js"

/**
 * Build a memory store.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<JobStoreShape> = Effect.gen(function*() {
  const state = yield* State.make
  const { deliveries, jobs, subscribed } = state
  const snapshot = State.snapshot
  const find = (id: string) => State.find(state, id)
  const held = (lease: Lease) => State.held(state, lease)
  const insert = Enqueue.insert(state)
  const copy = (d: HookDelivery): HookDelivery => ({ ...d, job: snapshot(d.job) })
  const holdsDelivery = (lease: Lease) => {
    const d = deliveries.get(lease.id)
    return d && d.status === "delivering" && d.token === lease.token
      ? Effect.succeed(d)
      : Effect.fail(new LeaseLost({ id: lease.id, token: lease.token }))
  }

  /**
   * Rule 8, bounded: the claimable jobs of the job's queue before it in claim
   * order, walked from the front as a store walks its claim index, each
   * counted when it will start before the job (`QueuePosition.fromWalk`). Its
   * own group's jobs ahead always do; another group's job only while that group
   * has room for it: running jobs of its group plus the jobs of its group ahead
   * of it stay below its limit.
   */
  const position = (job: JobRecord, now: number): QueuePosition.QueuePosition => {
    const running = State.runningPerGroup(state)
    const ahead = [...jobs.values()]
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

  const steps = MemorySteps.make({
    find: (id) => jobs.get(id),
    held,
    sleep: sleep(state)
  })

  const store: JobStoreShape = {
    ...Enqueue.enqueue(insert),
    get: (id) => find(id).pipe(Effect.map(snapshot)),
    findByKey: (type, key) =>
      Effect.suspend(() => {
        let newest: JobRecord | undefined
        for (const job of jobs.values()) {
          if (job.type === type && job.key === key && (!newest || job.id > newest.id)) newest = job
        }
        return newest ? Effect.succeed(snapshot(newest)) : Effect.fail(new JobNotFound({ id: `${type}:${key}` }))
      }),
    claim: claim(state),
    ...lifecycle(state),
    ...commands(state),
    list: (filter) =>
      Effect.sync(() => {
        const limit = Math.min(Math.max(filter.limit ?? 50, 1), 500)
        const items = [...jobs.values()]
          .filter((job) =>
            (filter.owner === undefined || job.owner === filter.owner) &&
            (filter.status === undefined || filter.status.includes(job.status)) &&
            (filter.type === undefined || job.type === filter.type) &&
            (filter.key === undefined || job.key === filter.key) &&
            (filter.queue === undefined || job.queue === filter.queue) &&
            (filter.cursor === undefined || job.id < filter.cursor)
          )
          .sort((a, b) => (a.id < b.id ? 1 : -1))
        const page = items.slice(0, limit).map(snapshot)
        return { items: page, nextCursor: items.length > limit ? page[page.length - 1]!.id : null }
      }),
    queuePosition: (id) =>
      Effect.flatMap(find(id), (job) =>
        Clock.currentTimeMillis.pipe(Effect.map((now) => job.status === "pending" ? position(job, now) : null))),
    view: (id) =>
      Effect.flatMap(find(id), (job) =>
        Effect.map(store.queuePosition(id), (place) => ({
          ...snapshot(job),
          ...QueuePosition.fields(place),
          steps: steps.info(job)
        }))),
    stats: (filter) =>
      Effect.sync((): Stats =>
        computeStats(
          [...jobs.values()].filter((job) =>
            (filter.owner === undefined || job.owner === filter.owner) &&
            (filter.type === undefined || job.type === filter.type)
          )
        )
      ),
    prune: (before) =>
      Effect.sync(() => {
        let n = 0
        for (const job of jobs.values()) {
          if (isTerminal(job.status) && job.completedAt !== null && job.completedAt < before) {
            jobs.delete(job.id)
            n++
          }
        }
        for (const d of deliveries.values()) if (d.createdAt < before) deliveries.delete(d.id)
        return n
      }),
    subscribeHooks: ({ events, types }) =>
      Effect.sync(() => {
        for (const type of types) for (const event of events) subscribed.add(`${type}\u0000${event}`)
      }),
    claimDeliveries: ({ events, leaseMs, limit, types, workerId }) =>
      Clock.currentTimeMillis.pipe(Effect.map((now) =>
        [...deliveries.values()]
          .filter((d) =>
            d.status !== "dead" && d.availableAt.getTime() <= now && types.includes(d.type) && events.includes(d.event)
          )
          .sort((a, b) => a.availableAt.getTime() - b.availableAt.getTime() || (a.id < b.id ? -1 : 1))
          .slice(0, Math.max(0, limit))
          .map((d) => {
            d.status = "delivering"
            d.attempts++
            d.token++
            d.lockedBy = workerId
            d.availableAt = new Date(now + leaseMs)
            return copy(d)
          })
      )),
    deliveryDone: (lease) => Effect.map(holdsDelivery(lease), (d) => void deliveries.delete(d.id)),
    deliveryFailed: ({ message, retryAt, ...lease }) =>
      Effect.map(holdsDelivery(lease), (d) => {
        d.status = retryAt === null ? "dead" : "pending"
        d.lockedBy = null
        d.lastError = message
        if (retryAt !== null) d.availableAt = retryAt
        return copy(d)
      }),
    listDeliveries: (filter) =>
      Effect.sync(() =>
        [...deliveries.values()]
          .filter((d) =>
            (filter.jobId === undefined || d.jobId === filter.jobId) &&
            (filter.status === undefined || filter.status.includes(d.status))
          )
          .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || (a.id < b.id ? -1 : 1))
          .slice(0, Math.min(Math.max(filter.limit ?? 100, 1), 500))
          .map(copy)
      ),
    ...steps.verbs,
    ...(yield* changes(state)),
    ...MemoryAdmin.verbs(jobs, () => store, snapshot, (job) => State.announce(state, job, "enqueued")),
    ...MemoryLogs.make(find, held),
    ...memorySchedules(insert)
  }
  return store
})

/**
 * A fresh memory store as a layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<JobStore> = Layer.effect(JobStore, make)

