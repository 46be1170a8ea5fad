/**
 * Effect's `Stream` module, loaded when first needed rather than when
 * `@jobtrack/core` is imported: with `Channel`, `Sink` and the rest it links
 * (18 of effect's files, about a fifth of the package's import), it is the
 * largest part of a plain import after `effect/Effect` itself.
 *
 * Every use is reached through an Effect that waits for it (`load`): building
 * a tracker, a memory store, a runner's change subscription, a result's wait
 * and `Jobtrack`'s `watch`. A tracker's `watch` returns a stream synchronously,
 * so `Tracker.make` loads the module before it returns the tracker. A process
 * that builds a tracker still pays for it then; one that only imports (a
 * module defining jobs, a script running migrations) does not.
 *
 * @internal
 */
import { Effect } from "effect"
import type * as StreamModule from "effect/Stream"

let module: typeof StreamModule | undefined
let loading: Promise<typeof StreamModule> | undefined

/** The module, loaded if it is not yet (a promise, for async code). */
export const loadPromise = (): Promise<typeof StreamModule> =>
  module !== undefined
    ? Promise.resolve(module)
    : (loading ??= import("effect/Stream").then((m) => (module = m)))

/** The module, loaded if it is not yet. */
export const load: Effect.Effect<typeof StreamModule> = Effect.suspend(() =>
  module !== undefined ? Effect.succeed(module) : Effect.promise(loadPromise)
)
