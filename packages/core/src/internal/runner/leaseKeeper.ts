/**
 * Keeping the leases of the jobs a runner holds: one fiber for the whole
 * runner (not one per job: a job that ends before its first heartbeat costs
 * nothing here). Each held job is heartbeaten one period after it started
 * and one period after each heartbeat, or at once when asked (a resync);
 * a heartbeat learns of cancel requests, and a lost lease stops the handler.
 *
 * @internal
 */
import { Clock, Effect, Queue } from "effect"
import type { Fiber } from "effect"
import type { Running, RunnerState } from "./state.js"

export interface LeaseKeeper {
  /** A job was registered in `running` (its `nextBeatAt` set). */
  readonly held: () => void
  /** Heartbeat this job now rather than at its next period. */
  readonly beatNow: (entry: Running) => void
  readonly fiber: Fiber.Fiber<unknown, unknown>
}

export const start = (state: RunnerState): Effect.Effect<LeaseKeeper> =>
  Effect.gen(function*() {
    const { heartbeatMs, leaseMs } = state.settings
    const pokes = yield* Queue.sliding<void>(1)
    const poke = () => Queue.offerUnsafe(pokes, undefined)
    // true while the keeper waits with no job to heartbeat: only then does a new job need to wake it
    let idle = false

    const beat = (r: Running) =>
      state.store.heartbeat({ id: r.job.id, token: r.job.token }, leaseMs).pipe(
        Effect.flatMap(({ cancelRequested }) => (cancelRequested && !r.settling ? r.stop("cancel") : Effect.void)),
        Effect.catchTag("LeaseLost", () => (r.settling ? Effect.void : r.stop("leaseLost"))),
        Effect.catchTag("StoreError", (e) => Effect.logWarning(`jobtrack: heartbeat failed: ${e.reason}`)),
        Effect.ensuring(Effect.flatMap(Clock.currentTimeMillis, (now) =>
          Effect.sync(() => {
            r.beating = false
            r.nextBeatAt = now + heartbeatMs
            poke()
          })
        ))
      )

    const fiber = yield* Effect.gen(function*() {
      while (true) {
        const now = yield* Clock.currentTimeMillis
        let next = Infinity
        for (const r of state.running.values()) {
          if (r.settling || r.beating) continue
          if (r.nextBeatAt <= now) {
            r.beating = true
            yield* Effect.forkDetach(beat(r))
          } else if (r.nextBeatAt < next) next = r.nextBeatAt
        }
        idle = next === Infinity
        if (idle) yield* Queue.take(pokes)
        else yield* Queue.take(pokes).pipe(Effect.timeoutOption(next - now))
        idle = false
      }
    }).pipe(Effect.forkDetach)

    return {
      held: () => {
        if (idle) poke()
      },
      beatNow: (r) => {
        r.nextBeatAt = 0
        poke()
      },
      fiber
    }
  })
