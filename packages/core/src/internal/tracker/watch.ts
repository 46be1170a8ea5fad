/**
 * The tracker's watch: a job's views as a stream, each one that differs from
 * the last emitted, woken by the process's change hub, until the job ends
 * or the tracker's layer is released.
 */
import { Effect, Queue } from "effect"
import type { Stream } from "effect"
import { isTerminal } from "../../Job.js"
import type { JobView } from "../../Job.js"
import type { JobNotFound, StoreError } from "../../JobError.js"
import type * as StreamModule from "effect/Stream"
import type * as ChangeHub from "../changeHub.js"

/**
 * What a watcher compares to skip a view equal to the last it emitted. The
 * watchers of one job woken together get one view object (the change hub's
 * shared read), so it is computed once per view, not once per watcher.
 */
const fingerprints = new WeakMap<JobView, string>()
const fingerprintOf = (v: JobView): string => {
  let f = fingerprints.get(v)
  if (f === undefined) {
    f = JSON.stringify([
      v.status, v.progress, v.progressMessage, v.queuePosition, v.queuePositionCapped,
      v.attempts, v.errorMessage, v.cancelRequested, v.updatedAt,
      v.steps?.map((step) => [step.status, step.attempts])
    ])
    fingerprints.set(v, f)
  }
  return f
}

/**
 * `watch` over the process's change hub (`Streams`: effect's Stream module,
 * loaded by the tracker); its watches end (without error) once `closed`
 * completes (the tracker's layer released).
 */
export const watcher = (
  Streams: typeof StreamModule,
  hub: ChangeHub.ChangeHub,
  closed: Effect.Effect<void> | undefined
) =>
(id: string): Stream.Stream<JobView, JobNotFound | StoreError> =>
  Streams.unwrap(Effect.gen(function*() {
    const wake = yield* Queue.sliding<void>(1)
    // woken by the process's change hub: by a change of this job, of its queue while it is
    // pending, a resync, or the hub's shared fallback poll (see internal/changeHub.ts)
    const subscriber: ChangeHub.Subscriber = {
      id,
      queue: null,
      pending: true,
      wake: () => Queue.offerUnsafe(wake, undefined)
    }
    yield* hub.subscribe(subscriber)
    let last = ""
    // The next view that differs from the last one emitted.
    const next = Effect.gen(function*() {
      while (true) {
        const v = yield* hub.read(id)
        subscriber.queue = v.queue
        subscriber.pending = v.status === "pending"
        const fingerprint = fingerprintOf(v)
        if (fingerprint !== last) {
          last = fingerprint
          return v
        }
        yield* Queue.take(wake)
      }
    })
    const views = Streams.fromEffectRepeat(next).pipe(Streams.takeUntil((v) => isTerminal(v.status)))
    // the tracker's layer was released (`jobs.close()`): its watches end, an SSE stream with them
    return closed === undefined ? views : views.pipe(Streams.interruptWhen(closed))
  }))
