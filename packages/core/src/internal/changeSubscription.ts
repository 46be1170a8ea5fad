/**
 * A subscription to the store's changes that is open when it returns. A
 * store may start listening only when someone subscribes (the Kysely store
 * does: a producer holds no LISTEN), so a reader that forks
 * `Stream.runForEach(store.changes, …)` and at once looks at the store
 * could miss what changes before the store hears. `open` subscribes
 * (`Stream.toPull`, which returns once the store listens), then hands each
 * change to `handle` in a detached fiber; interrupting the fiber closes the
 * subscription.
 *
 * @internal
 */
import { Effect, Exit, Scope } from "effect"
import type { Fiber } from "effect"
import type { JobChange, JobStoreShape } from "../JobStore.js"
import * as EffectModules from "./effectModules.js"

export const open = (
  store: Pick<JobStoreShape, "changes">,
  handle: (change: JobChange) => Effect.Effect<void>
): Effect.Effect<Fiber.Fiber<void, unknown>> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.gen(function*() {
      const Stream = yield* EffectModules.Stream.load
      const scope = yield* Scope.make()
      const pull = yield* restore(Scope.provide(Stream.toPull(store.changes), scope)).pipe(
        Effect.onInterrupt(() => Scope.close(scope, Exit.void))
      )
      return yield* Stream.fromPull(Effect.succeed(pull)).pipe(
        Stream.runForEach(handle),
        Effect.ensuring(Scope.close(scope, Exit.void)),
        Effect.interruptible,
        Effect.forkDetach({ startImmediately: true })
      )
    })
  )
