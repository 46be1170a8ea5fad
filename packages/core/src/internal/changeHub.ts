/**
 * One change hub per store per process, shared by every `Tracker.watch`
 * stream (and so by every SSE stream an HTTP adapter serves). Before it, each
 * stream subscribed to the store's changes, registered its own interest in
 * its job, and re-read its job every poll interval: about one query per
 * second per open stream, even when idle. The hub has one subscription to
 * `store.changes` and wakes only the streams a change concerns; it registers
 * `store.watching` once per watched job (not per stream); all the streams of
 * one job woken together share one read of its view; and its fallback poll (for a
 * notification lost without a resync) wakes the watchers of one job per
 * period, round-robin: one query per period per process, whatever the number
 * of streams. Its fibers run while it has subscribers.
 *
 * Hand-written rather than an Effect `PubSub` per job: what it adds is the
 * routing by job and queue, the shared registrations and the shared reads.
 *
 * @internal
 */
import { Deferred, Duration, Effect, Exit, Fiber, Scope } from "effect"
import type { JobView } from "../Job.js"
import type { JobNotFound, StoreError } from "../JobError.js"
import type { JobChange, JobStoreShape } from "../JobStore.js"
import * as ChangeSubscription from "./changeSubscription.js"

/** One watching stream, as the hub sees it. */
export interface Subscriber {
  readonly id: string
  /** The job's queue once read; with `pending`, changes in that queue may move its position. */
  queue: string | null
  pending: boolean
  /** Called when the stream should re-read its job. */
  readonly wake: () => void
}

export interface ChangeHub {
  /** Subscribe while the scope is open. */
  readonly subscribe: (subscriber: Subscriber) => Effect.Effect<void, never, Scope.Scope>
  /** The job's view; reads of one job that overlap are one store read. */
  readonly read: (id: string) => Effect.Effect<JobView, JobNotFound | StoreError>
}

interface Watched {
  readonly subscribers: Set<Subscriber>
  readonly scope: Scope.Closeable
  /** Bumped at each wake-up: a view read at the current generation is fresh for every watcher. */
  generation: number
  /** The read of the current (or an earlier) generation, done or in flight. */
  read?: { readonly generation: number; readonly view: Deferred.Deferred<JobView, JobNotFound | StoreError> }
}

const hubs = new WeakMap<object, ChangeHub>()

/** The hub of `key` (the store as provided, shared by every tracker over it), made at the first call. */
export const of = (key: object, store: JobStoreShape, pollInterval: Duration.Input): ChangeHub => {
  let hub = hubs.get(key)
  if (!hub) {
    hub = make(store, Duration.toMillis(pollInterval))
    hubs.set(key, hub)
  }
  return hub
}

const make = (store: JobStoreShape, pollMs: number): ChangeHub => {
  const watched = new Map<string, Watched>()
  let fibers: ReadonlyArray<Fiber.Fiber<unknown, unknown>> = []
  let size = 0
  let cursor = 0
  /** Done once the hub's subscription to the store's changes is open (a later watcher waits for it too). */
  let opened = Deferred.makeUnsafe<void>()

  // a read started before the wake-up may miss the change: readers of the new generation read again
  const wakeJob = (w: Watched) => {
    w.generation++
    for (const s of w.subscribers) s.wake()
  }

  const dispatch = (change: JobChange) =>
    Effect.sync(() => {
      if (change.kind === "resync") {
        for (const w of watched.values()) wakeJob(w)
        return
      }
      // a queue's coarse change (a feed is open) may be this job's own: its pending watchers re-read below
      const own = change.kind === "queueChanged" ? undefined : watched.get(change.id)
      if (own) wakeJob(own)
      if (change.kind === "progress") return
      // a change in a queue may move the positions of its pending jobs
      for (const w of watched.values()) {
        if (w === own) continue
        for (const s of w.subscribers) {
          if (s.pending && s.queue === change.queue) {
            wakeJob(w)
            break
          }
        }
      }
    })

  /** One job's watchers per period, round-robin. */
  const fallback = Effect.sync(() => {
    if (watched.size === 0) return
    cursor = cursor % watched.size
    let i = 0
    for (const w of watched.values()) {
      if (i++ === cursor) {
        wakeJob(w)
        break
      }
    }
    cursor++
  }).pipe(Effect.delay(pollMs), Effect.forever)

  const startFibers = Effect.gen(function*() {
    // open before the first watcher reads its job: a change after that read is heard
    const listener = yield* ChangeSubscription.open(store, dispatch)
    const poll = yield* Effect.forkDetach(fallback)
    fibers = [listener, poll]
    Deferred.doneUnsafe(opened, Exit.void)
  })

  const add = (s: Subscriber) =>
    Effect.gen(function*() {
      if (size++ === 0) yield* startFibers
      else yield* Deferred.await(opened)
      let w = watched.get(s.id)
      if (!w) {
        const scope = yield* Scope.make()
        w = { subscribers: new Set(), scope, generation: 0 }
        watched.set(s.id, w)
        // announcements of this job's progress and status, registered once for all its watchers
        yield* store.watching(s.id).pipe(
          Scope.provide(scope),
          Effect.catchTag("StoreError", (e) => Effect.logDebug(`jobtrack: watch falls back to polling: ${e.reason}`))
        )
      }
      w.subscribers.add(s)
    })

  const remove = (s: Subscriber) =>
    Effect.gen(function*() {
      const w = watched.get(s.id)
      if (w && w.subscribers.delete(s) && w.subscribers.size === 0) {
        watched.delete(s.id)
        yield* Scope.close(w.scope, Exit.void)
      }
      if (--size === 0) {
        const running = fibers
        fibers = []
        opened = Deferred.makeUnsafe<void>()
        yield* Effect.forEach(running, Fiber.interrupt, { discard: true })
      }
    })

  const read = (id: string): Effect.Effect<JobView, JobNotFound | StoreError> =>
    Effect.suspend(() => {
      const w = watched.get(id)
      if (!w) return store.view(id)
      if (w.read && w.read.generation === w.generation) return Deferred.await(w.read.view)
      return Effect.flatMap(Deferred.make<JobView, JobNotFound | StoreError>(), (view) => {
        w.read = { generation: w.generation, view }
        return store.view(id).pipe(
          Effect.exit,
          Effect.flatMap((exit) => {
            Deferred.doneUnsafe(view, exit)
            return exit
          })
        )
      })
    })

  return {
    subscribe: (s) => Effect.acquireRelease(Effect.uninterruptible(add(s)), () => remove(s)),
    read
  }
}
