/**
 * Effect's modules that a plain import of `@jobtrack/core` does not link,
 * loaded when first needed (issue 13, item 6):
 *
 * - `Stream` (with `Channel`, `Sink` and the rest it links: 12 of effect's
 *   files, about a fifth of the package's import): building a tracker (its
 *   `watch` returns a stream at once, so `Tracker.make` loads it first), a
 *   memory store, a runner's change subscription, a result's wait and
 *   `Jobtrack`'s `watch`;
 * - `PubSub` (3 more files): building a memory store.
 *
 * (Not `Random`, 5 files but about 1 ms: `RetryPolicy.delayBefore` seeds it, and
 * loading it at a job's first failure would delay that retry's time on a
 * `TestClock`.)
 *
 * Every use is reached through an Effect (`load`) or a promise (`promise`)
 * that waits for the module. A process that builds a tracker still pays for
 * `Stream` then; one that only imports (a module defining jobs, a script
 * running migrations) does not.
 *
 * @internal
 */
import { Effect } from "effect"

/** A module loaded when first needed. */
export interface Lazy<M> {
  /** The module, loaded if it is not yet. */
  readonly load: Effect.Effect<M>
  /** The module, loaded if it is not yet (for async code). */
  readonly promise: () => Promise<M>
}

const lazy = <M>(importer: () => Promise<M>): Lazy<M> => {
  let module: M | undefined
  let loading: Promise<M> | undefined
  const promise = (): Promise<M> =>
    module !== undefined ? Promise.resolve(module) : (loading ??= importer().then((m) => (module = m)))
  return {
    promise,
    load: Effect.suspend(() => module !== undefined ? Effect.succeed(module) : Effect.promise(promise))
  }
}

/** `effect/Stream`. */
export const Stream: Lazy<typeof import("effect/Stream")> = lazy(() => import("effect/Stream"))

/** `effect/PubSub`. */
export const PubSub: Lazy<typeof import("effect/PubSub")> = lazy(() => import("effect/PubSub"))
