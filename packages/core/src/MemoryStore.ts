/**
 * A `JobStore` in the memory of one process: for tests, local development
 * and single-process apps that can afford to lose jobs on exit. Every
 * operation is one synchronous step, so it is atomic by construction.
 *
 * `make` only assembles the parts, one module each under `internal/memory/`
 * (as the Kysely store's are under its `store/`): the state and the write
 * that settles a job, enqueue, claim, the holder's lifecycle writes, the
 * operator's commands, reads, the queue position, retention, hook
 * deliveries and changes.
 *
 * @since 0.1.0
 */
import { Effect, Layer } from "effect"
import type { Lease } from "./Job.js"
import { JobStore } from "./JobStore.js"
import type { JobStoreShape } from "./JobStore.js"
import { changes } from "./internal/memory/Changes.js"
import { claim } from "./internal/memory/Claim.js"
import { commands } from "./internal/memory/Commands.js"
import * as Enqueue from "./internal/memory/Enqueue.js"
import { hookDeliveries } from "./internal/memory/HookDeliveries.js"
import { lifecycle, sleep } from "./internal/memory/Lifecycle.js"
import { position } from "./internal/memory/Position.js"
import { reads } from "./internal/memory/Reads.js"
import { prune } from "./internal/memory/Retention.js"
import * as State from "./internal/memory/State.js"
import * as MemoryLogs from "./internal/memoryLogs.js"
import { memorySchedules } from "./internal/memorySchedules.js"
import * as MemorySteps from "./internal/memorySteps.js"
import * as MemoryAdmin from "./MemoryAdmin.js"

/**
 * Build a memory store.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<JobStoreShape> = Effect.gen(function*() {
  const state = yield* State.make
  const find = (id: string) => State.find(state, id)
  const held = (lease: Lease) => State.held(state, lease)
  const insert = Enqueue.insert(state)
  const steps = MemorySteps.make({ find: (id) => state.jobs.get(id), held, sleep: sleep(state) })
  const store: JobStoreShape = {
    ...Enqueue.enqueue(insert),
    ...reads(state),
    claim: claim(state),
    ...lifecycle(state),
    ...commands(state),
    ...position(state, steps.info),
    prune: prune(state),
    ...hookDeliveries(state),
    ...steps.verbs,
    ...(yield* changes(state)),
    ...MemoryAdmin.verbs(state.jobs, () => store, (job) => State.announce(state, job, "enqueued")),
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

