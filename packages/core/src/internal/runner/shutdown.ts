/**
 * Graceful shutdown: stop claiming, let running jobs finish within the grace
 * period, then stop (release) the rest and wait for their writes; the
 * listener and the completion writer go last, since settling jobs need them.
 * Runs once however often it is asked for.
 *
 * A claim in flight when shutdown begins is waited for (the claim loop
 * releases the jobs it got, `claimLoop.ts`), within the same grace period.
 * A claim still unanswered when the grace is up (the database does not
 * answer) is left behind: shutdown goes on without it. If it commits later,
 * the loop still releases its jobs when it returns, if the store can still
 * write; otherwise they stay `processing` until their lease expires and lease
 * recovery (any runner's) counts that attempt as lost.
 *
 * @internal
 */
import { Clock, Effect, Fiber, Option } from "effect"
import type { RunnerState } from "./state.js"

export interface Parts {
  readonly loop: Fiber.Fiber<unknown, unknown>
  readonly recovery: Fiber.Fiber<unknown, unknown>
  readonly prune: Fiber.Fiber<unknown, unknown> | undefined
  readonly summary: Fiber.Fiber<unknown, unknown> | undefined
  readonly listener: Fiber.Fiber<unknown, unknown>
  readonly completer: Fiber.Fiber<unknown, unknown>
  readonly keeper: Fiber.Fiber<unknown, unknown>
}

export const make = (state: RunnerState, parts: Parts): Effect.Effect<void> => {
  let done: Effect.Effect<void> | undefined
  return Effect.suspend(() => {
    if (done) return done
    done = Effect.gen(function*() {
      state.stopping = true
      const graceMs = state.settings.graceMs
      const deadline = (yield* Clock.currentTimeMillis) + graceMs
      // waits for a claim in flight and the release of what it got, at most the grace
      const stopped = yield* Fiber.interrupt(parts.loop).pipe(Effect.timeoutOption(graceMs))
      if (Option.isNone(stopped) && parts.loop.pollUnsafe() === undefined) {
        yield* Effect.logWarning(
          "jobtrack: shutdown: a claim is still in flight after the shutdown grace; " +
            "jobs it may claim are released when it returns, else recovered when their lease expires"
        )
      }
      yield* Fiber.interrupt(parts.recovery)
      if (parts.prune) yield* Fiber.interrupt(parts.prune)
      if (parts.summary) yield* Fiber.interrupt(parts.summary)
      // every job's run ends by leaving `running` (settled, released or dropped)
      const left = deadline - (yield* Clock.currentTimeMillis)
      const finished = state.running.size === 0
        ? Option.some(undefined)
        : left > 0
        ? yield* state.drained.pipe(Effect.timeoutOption(left))
        : Option.none()
      if (Option.isNone(finished)) {
        yield* Effect.forEach([...state.running.values()], (r) => r.stop("shutdown"), { discard: true })
        yield* state.drained
      }
      yield* Fiber.interrupt(parts.listener)
      yield* Fiber.interrupt(parts.completer)
      yield* Fiber.interrupt(parts.keeper)
    }).pipe(Effect.cached, Effect.runSync)
    return done
  })
}
