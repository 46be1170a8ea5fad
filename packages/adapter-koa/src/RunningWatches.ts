/**
 * The running jobs the console's overview shows, watched while a list or
 * overview stream is open, so that their progress reaches the page live (a
 * store announces progress only for watched jobs, `JobStoreShape.watching`).
 * Bounded: at most the overview's {@link cap} oldest running jobs, re-read
 * when statuses change (at most every 250 ms per stream), released when the
 * stream closes. Registrations are shared per store in the process: streams
 * showing the same job hold one `watching` for it.
 *
 * @internal
 */
import { Effect, Exit, Scope } from "effect"
import type { JobChange, JobStoreShape } from "@jobtrack/core"

/** How many running jobs the overview shows (`ConsoleApi.overview`). */
export const cap = 50

interface Shared {
  count: number
  readonly scope: Scope.Closeable
}

/** Per store: the jobs watched for the console, with how many streams hold each. */
const registries = new WeakMap<object, Map<string, Shared>>()

export interface RunningWatches {
  /** Re-read the running jobs and watch exactly the first {@link cap} of them. */
  readonly refresh: Effect.Effect<void>
  /** Stop watching (the stream closed). */
  readonly release: Effect.Effect<void>
}

/** Whether a batch may change which jobs are running. */
export const concerns = (batch: ReadonlyArray<JobChange>): boolean =>
  batch.some((c) => c.kind === "resync" || c.kind === "queueChanged" || c.kind === "status" || c.kind === "deleted")

/** One stream's watches over `store`; refreshes must not overlap (the stream runs them in turn). */
export const make = (store: JobStoreShape): RunningWatches => {
  let registry = registries.get(store)
  if (!registry) {
    registry = new Map()
    registries.set(store, registry)
  }
  const shared = registry
  const mine = new Set<string>()

  const acquire = (id: string) =>
    Effect.gen(function*() {
      const held = shared.get(id)
      if (held) {
        held.count++
        return
      }
      const scope = yield* Scope.make()
      shared.set(id, { count: 1, scope })
      // a store that cannot register leaves the tick as the fallback
      yield* store.watching(id).pipe(Scope.provide(scope), Effect.ignore)
    })
  const drop = (id: string) =>
    Effect.suspend(() => {
      const held = shared.get(id)
      if (!held || --held.count > 0) return Effect.void
      shared.delete(id)
      return Scope.close(held.scope, Exit.void)
    })

  const refresh = store.adminList({ filter: { status: ["processing"] }, sort: "createdAt", order: "asc", limit: cap })
    .pipe(
      Effect.flatMap((page) => {
        const now = new Set(page.items.map((j) => j.id))
        const gone = [...mine].filter((id) => !now.has(id))
        const added = [...now].filter((id) => !mine.has(id))
        for (const id of gone) mine.delete(id)
        for (const id of added) mine.add(id)
        return Effect.forEach(gone, drop, { discard: true }).pipe(
          Effect.andThen(Effect.forEach(added, acquire, { discard: true }))
        )
      }),
      Effect.ignore
    )
  const release = Effect.suspend(() => {
    const all = [...mine]
    mine.clear()
    return Effect.forEach(all, drop, { discard: true })
  })
  return { refresh, release }
}
