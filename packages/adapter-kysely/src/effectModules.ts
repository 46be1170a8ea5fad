/**
 * Effect's `Stream`, `Channel`, `PubSub` and `Semaphore` modules, loaded when
 * the store is built rather than when `@jobtrack/adapter-kysely` is imported
 * (issue 13, item 6): they link 15 of effect's files, the largest part of a
 * plain import after `effect/Effect` itself. The store's change stream
 * (`store/Changes.ts`) and status feed (`store/StatusFeed.ts`) are their only
 * uses, both built by an Effect that waits for them (`load`).
 *
 * @internal
 */
import { Effect } from "effect"
import type * as ChannelModule from "effect/Channel"
import type * as PubSubModule from "effect/PubSub"
import type * as SemaphoreModule from "effect/Semaphore"
import type * as StreamModule from "effect/Stream"

/** The modules, once loaded. */
export interface Modules {
  readonly Stream: typeof StreamModule
  readonly Channel: typeof ChannelModule
  readonly PubSub: typeof PubSubModule
  readonly Semaphore: typeof SemaphoreModule
}

let modules: Modules | undefined
let loading: Promise<Modules> | undefined

const start = (): Promise<Modules> =>
  loading ??= Promise.all([
    import("effect/Stream"),
    import("effect/Channel"),
    import("effect/PubSub"),
    import("effect/Semaphore")
  ]).then(([Stream, Channel, PubSub, Semaphore]) => (modules = { Stream, Channel, PubSub, Semaphore }))

/** The modules, loaded if they are not yet. */
export const load: Effect.Effect<Modules> = Effect.suspend(() =>
  modules !== undefined ? Effect.succeed(modules) : Effect.promise(start)
)
