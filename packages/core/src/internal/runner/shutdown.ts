/**
 * Graceful shutdown: stop claiming, let running jobs finish within the grace
 * period, then stop (release) the rest and wait for their writes; the
 * listener and the completion writer go last, since settling jobs need them.
 * Runs once however often it is asked for.
 *
 * @internal
 */
import { Effect, Fiber, Option } from "effect"
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
      yield* Fiber.interrupt(parts.loop)
      yield* Fiber.interrupt(parts.recovery)
      if (parts.prune) yield* Fiber.interrupt(parts.prune)
      if (parts.summary) yield* Fiber.interrupt(parts.summary)
      // every job's run ends by leaving `running` (settled, released or dropped)
      const finished = yield* state.drained.pipe(Effect.timeoutOption(state.settings.graceMs))
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
