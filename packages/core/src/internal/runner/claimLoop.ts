/**
 * The claim loop: claim as many jobs as there are free slots; claim again at
 * once after a full batch, else wait for a wake-up (a slot freed, a job
 * announced) or the poll interval; back off on store errors.
 *
 * @internal
 */
import { Effect, Queue } from "effect"
import type { Fiber } from "effect"
import * as JobRun from "./jobRun.js"
import type { RunnerState } from "./state.js"

export const start = (
  state: RunnerState,
  parts: JobRun.Parts,
  wakes: Queue.Dequeue<void>
): Effect.Effect<Fiber.Fiber<void, unknown>> => {
  const { settings, store } = state

  /** One claim; true when the batch was full (there may be more). */
  const cycle = Effect.gen(function*() {
    let busy = 0
    for (const r of state.running.values()) if (!r.settling) busy++
    const free = settings.concurrency - busy
    if (free <= 0 || state.stopping) return false
    const jobs = yield* store.claim({
      queues: settings.queues,
      types: settings.types,
      workerId: settings.workerId,
      limit: free,
      leaseMs: settings.leaseMs
    })
    for (const job of jobs) yield* JobRun.start(state, parts, job)
    return jobs.length === free
  })

  const loop = Effect.gen(function*() {
    let failures = 0
    while (!state.stopping) {
      const result = yield* Effect.result(cycle)
      if (result._tag === "Failure") {
        failures++
        yield* Effect.logWarning(`jobtrack: claim failed (${failures}): ${result.failure.reason}`)
        yield* Effect.sleep(Math.min(settings.pollMs * failures, 30_000))
        continue
      }
      failures = 0
      if (result.success) continue // full batch: there may be more
      yield* Queue.take(wakes).pipe(Effect.timeoutOption(settings.pollMs))
    }
  })

  return Effect.forkDetach(loop)
}
