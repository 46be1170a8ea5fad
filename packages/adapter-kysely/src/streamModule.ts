/**
 * Effect's `Stream` and `Channel` modules, loaded when the store is built
 * rather than when `@jobtrack/adapter-kysely` is imported (issue 13, item 6):
 * they link 18 of effect's files, the largest part of a plain import after
 * `effect/Effect` itself. The store's change stream (`store/Changes.ts`) is
 * their only use, and it is built by an Effect that waits for them (`load`).
 *
 * @internal
 */
import { Effect } from "effect"
import type * as ChannelModule from "effect/Channel"
import type * as StreamModule from "effect/Stream"

/** The modules, once loaded. */
export interface Modules {
  readonly Stream: typeof StreamModule
  readonly Channel: typeof ChannelModule
}

let modules: Modules | undefined
let loading: Promise<Modules> | undefined

const start = (): Promise<Modules> =>
  loading ??= Promise.all([import("effect/Stream"), import("effect/Channel")]).then(
    ([Stream, Channel]) => (modules = { Stream, Channel })
  )

/** The modules, loaded if they are not yet. */
export const load: Effect.Effect<Modules> = Effect.suspend(() =>
  modules !== undefined ? Effect.succeed(modules) : Effect.promise(start)
)
