/**
 * The hook deliveries of the memory store (rules 12–15): which hooks some
 * process has (a finished job records a delivery for those only, in
 * `State.settle`), claiming due deliveries under a lease, and their outcome.
 */
import { Clock, Effect } from "effect"
import type { Lease } from "../../Job.js"
import { LeaseLost } from "../../JobError.js"
import type { HookDelivery, JobStoreShape } from "../../JobStore.js"
import { snapshot } from "./State.js"
import type { State } from "./State.js"

const copy = (d: HookDelivery): HookDelivery => ({ ...d, job: snapshot(d.job) })

export const hookDeliveries = (
  state: State
): Pick<JobStoreShape, "subscribeHooks" | "claimDeliveries" | "deliveryDone" | "deliveryFailed" | "listDeliveries"> => {
  const { deliveries } = state
  const holdsDelivery = (lease: Lease) => {
    const d = deliveries.get(lease.id)
    return d && d.status === "delivering" && d.token === lease.token
      ? Effect.succeed(d)
      : Effect.fail(new LeaseLost({ id: lease.id, token: lease.token }))
  }
  return {
    subscribeHooks: ({ events, types }) =>
      Effect.sync(() => {
        for (const type of types) for (const event of events) state.subscribed.add(`${type}\u0000${event}`)
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
      )
  }
}
