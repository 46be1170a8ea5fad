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
 * The jobs still running when the grace is up are stopped and their
 * hand-back (the release write, after the handler ended) is waited for at
 * most {@link handBackMs} more. A job not handed back by then (the database
 * does not answer, or a plain async handler ignores its signal) is left
 * behind and logged: it stays `processing` under its lease, which is no
 * longer renewed, and lease recovery makes it claimable again once the lease
 * expires. So shutdown takes at most the grace plus `handBackMs` (and the
 * claim loop's own wait, within the grace).
 *
 * @internal
 */
import { Clock, Effect, Fiber, Option } from "effect"
import type { RunnerState } from "./state.js"

/** How long shutdown waits, after the grace, for the jobs it stopped to be handed back. */
export const handBackMs = 5_000

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
      // housekeeping may be in a store call it does not let go of (a summary step is uninterruptible):
      // waited for within the grace only; a call the database never answers is left behind
      const housekeeping = [parts.recovery, parts.prune, parts.summary].filter((f) => f !== undefined)
      yield* Fiber.interruptAll(housekeeping).pipe(
        Effect.timeoutOption(Math.max(0, deadline - (yield* Clock.currentTimeMillis)))
      )
      // every job's run ends by leaving `running` (settled, released or dropped)
      const left = deadline - (yield* Clock.currentTimeMillis)
      const finished = state.running.size === 0
        ? Option.some(undefined)
        : left > 0
        ? yield* state.drained.pipe(Effect.timeoutOption(left))
        : Option.none()
      if (Option.isNone(finished)) {
        yield* Effect.forEach([...state.running.values()], (r) => r.stop("shutdown"), { discard: true })
        const handedBack = yield* state.drained.pipe(Effect.timeoutOption(handBackMs))
        if (Option.isNone(handedBack)) {
          const held = [...state.running.values()].map((r) => r.job.id)
          yield* Effect.logWarning(
            `jobtrack: shutdown: ${held.length} job(s) not handed back ${handBackMs} ms after the shutdown grace ` +
              "(the store does not answer, or a handler ignores its abort signal); they stay processing " +
              "until their lease expires, then lease recovery makes them claimable again"
          ).pipe(Effect.annotateLogs({ jobIds: held, workerId: state.settings.workerId }))
        }
      }
      yield* Fiber.interrupt(parts.listener)
      yield* Fiber.interrupt(parts.completer)
      yield* Fiber.interrupt(parts.keeper)
    }).pipe(Effect.cached, Effect.runSync)
    return done
  })
}
