/**
 * Effect's `Stream` module, loaded when first needed rather than when
 * `@jobtrack/adapter-koa` is imported (issue 13, item 6): it links 18 of
 * effect's files, the largest part of a plain import after `effect/Effect`
 * itself. The routers load it when they serve a stream (`load`,
 * `loadPromise`), as does `EventFanout.frames` (an Effect of its stream: Node
 * refuses to require an ES module that an `import()` is still loading).
 * `EventStream.frames`, which returns a stream at once, takes the loaded
 * module, or requires it synchronously when it is not loaded yet (Node ≥
 * 20.19 requires ES modules; the same module instance as an import): it is
 * given a stream, so `Stream` is evaluated already, and requiring an
 * evaluated module is safe while an import of it is pending.
 *
 * @internal
 */
import { Effect } from "effect"
import type * as StreamModule from "effect/Stream"

let loaded: typeof StreamModule | undefined
let loading: Promise<typeof StreamModule> | undefined

/** The module, loaded if it is not yet (a promise, for async code). */
export const loadPromise = (): Promise<typeof StreamModule> =>
  loaded !== undefined
    ? Promise.resolve(loaded)
    : (loading ??= import("effect/Stream").then((m) => (loaded = m)))

/** The module, loaded if it is not yet. */
export const load: Effect.Effect<typeof StreamModule> = Effect.suspend(() =>
  loaded !== undefined ? Effect.succeed(loaded) : Effect.promise(loadPromise)
)

/** The module: the loaded one, or required now (only where a stream exists, so the module is evaluated). */
export const stream = (): typeof StreamModule =>
  loaded ??= process.getBuiltinModule("node:module").createRequire(import.meta.url)("effect/Stream") as typeof StreamModule
