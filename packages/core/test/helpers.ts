import { Effect, Stream } from "effect"
import type { Scope } from "effect"
import { JobStore, MemoryStore, Runner, Tracker } from "@jobtrack/core"
import type { JobDefinition, JobStoreShape, JobView } from "@jobtrack/core"

/** A memory store, a tracker and `runners` runners over it, in the test's scope. */
export const setup = (
  definitions: ReadonlyArray<JobDefinition.Any>,
  options: Omit<Runner.RunnerOptions, "definitions"> & { readonly runners?: number; readonly store?: JobStoreShape } = {}
): Effect.Effect<
  { tracker: Tracker.TrackerShape; store: JobStoreShape; runners: ReadonlyArray<Runner.Runner> },
  never,
  Scope.Scope
> =>
  Effect.gen(function*() {
    const { runners: count = 1, store: given, ...runnerOptions } = options
    const store = given ?? (yield* MemoryStore.make)
    const tracker = yield* Tracker.make({ definitions })
      .pipe(Effect.provideService(JobStore, store))
    const runners: Array<Runner.Runner> = []
    for (let i = 0; i < count; i++) {
      runners.push(
        yield* (Runner.make({ pollInterval: "1 second", prune: false, ...runnerOptions, definitions, workerId: `runner-${i}` })
          .pipe(Effect.provideService(JobStore, store), Effect.orDie) as Effect.Effect<Runner.Runner, never, Scope.Scope>)
      )
    }
    return { tracker, store, runners }
  })

/** Wait (on real signals from the store) until the job's view satisfies `until`. */
export const waitFor = (tracker: Tracker.TrackerShape, id: string, until: (v: JobView) => boolean) =>
  tracker.watch(id).pipe(
    Stream.filter(until),
    Stream.runHead,
    Effect.map((o) => {
      if (o._tag === "None") throw new Error(`job ${id} ended without reaching the awaited state`)
      return o.value
    })
  )

/** Let the other fibers run until `done` holds (bounded: the test fails rather than hangs). */
export const yieldUntil = (done: () => boolean, what: string): Effect.Effect<void> =>
  Effect.gen(function*() {
    for (let i = 0; i < 10_000; i++) {
      if (done()) return
      yield* Effect.yieldNow
    }
    return yield* Effect.die(new Error(`never: ${what}`))
  })

/** Whether a process is alive. */
export const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}
