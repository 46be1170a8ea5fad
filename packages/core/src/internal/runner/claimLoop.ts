/**
 * The claim loop: claim as many jobs as there are free slots; claim again at
 * once after a full batch, else wait for a wake-up or the poll interval;
 * back off on store errors.
 *
 * Which wake-ups make it claim depends on how the last claim ended:
 *
 * - it took every slot it asked for (or there was no slot free): a freed
 *   slot may take a job, so the next freed slot claims;
 * - it found fewer jobs than it asked for: the queues were drained as of that
 *   claim, and a freed slot changes nothing in them. It claims again on an
 *   announcement (a job the store announced claimable, a resync, a limited
 *   group's job released: `RunnerState.announce`) or when the poll interval
 *   is up (jobs that became due, or were not announced), not at every job
 *   this runner finishes. Before, each finished job woke an empty claim once
 *   the queues were drained: about one claim per job whose result was
 *   nothing, in every process (issue 13 item 7, docs/benchmarks.md
 *   "Scale-out (session 7)").
 *
 * A claim once sent is not abandoned: interrupting the claim's Effect does not
 * stop the database, which commits it and leaves its jobs `processing` under
 * this runner's lease with nobody running them (until the lease expires and
 * recovery counts the lost attempt: a job with `maxAttempts: 1` would fail
 * without having run). So the claim and what follows it are one
 * uninterruptible step: its jobs are handed to runs, or, when shutdown began
 * meanwhile, released at once (`JobStore.release` gives the attempt back).
 * Shutdown's interruption of the loop waits for that step, at most the
 * shutdown grace (see `shutdown.ts`).
 *
 * @internal
 */
import { Cause, Clock, Effect, Queue } from "effect"
import type { Fiber } from "effect"
import type { JobRecord } from "../../Job.js"
import * as JobRun from "./jobRun.js"
import { persist } from "./persist.js"
import type { RunnerState } from "./state.js"

/** How a claim ended: took all it asked for, found fewer (drained), or had no slot to ask for. */
type Outcome = "full" | "drained" | "noSlot"

export const start = (
  state: RunnerState,
  parts: JobRun.Parts,
  wakes: Queue.Dequeue<void>
): Effect.Effect<Fiber.Fiber<void, unknown>> => {
  const { settings, store } = state

  const cycle = Effect.gen(function*() {
    let busy = 0
    for (const r of state.running.values()) if (!r.settling) busy++
    const free = settings.concurrency - busy
    if (free <= 0 || state.stopping) return "noSlot" as Outcome
    // this claim sees every job announced so far
    state.announced = false
    const jobs = yield* claimed(free)
    return (jobs.length === free ? "full" : "drained") as Outcome
  })

  /** Give back jobs claimed while shutdown began: pending again, their attempt not counted. */
  const giveBack = (jobs: ReadonlyArray<JobRecord>) =>
    Effect.forEach(jobs, (job) =>
      persist(store.release({ id: job.id, token: job.token }), settings.leaseMs).pipe(
        Effect.catchCause((cause) =>
          Effect.logWarning(
            `jobtrack: could not release job ${job.id} claimed during shutdown; it is recovered when its lease expires`,
            Cause.pretty(cause)
          )
        )
      ), { discard: true })

  /**
   * Claim up to `free` jobs and run them, or release them if the runner began
   * stopping while the claim was in flight: one step that an interruption
   * waits for (a claim sent to the store commits whether or not its Effect
   * is interrupted).
   */
  const claimed = (free: number) =>
    Effect.uninterruptible(Effect.gen(function*() {
      const jobs = yield* store.claim({
        queues: settings.queues,
        types: settings.types,
        workerId: settings.workerId,
        limit: free,
        leaseMs: settings.leaseMs
      })
      if (jobs.length > 0) yield* JobRun.startAll(state, parts, jobs, giveBack)
      return jobs
    }))

  /**
   * Wait for what may make a claim worth it after `outcome` ("full" claims
   * again at once): with no slot free, a wake-up (a freed slot wakes the
   * loop, so this wait needs no timeout: it raced two fibers and a timer at
   * every claim of a busy runner); drained, an announcement only, at most the
   * poll interval from now (shutdown interrupts either wait).
   */
  const waitAfter = (outcome: Outcome) =>
    Effect.gen(function*() {
      if (outcome !== "drained") return yield* Queue.take(wakes)
      const deadline = (yield* Clock.currentTimeMillis) + settings.pollMs
      while (!state.announced && !state.stopping) {
        const left = deadline - (yield* Clock.currentTimeMillis)
        if (left <= 0) return
        const woken = yield* Queue.take(wakes).pipe(Effect.timeoutOption(left))
        if (woken._tag === "None") return
      }
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
      if (result.success === "full") continue // there may be more
      // announced while the claim was in flight: claim again at once
      if (result.success === "drained" && state.announced) continue
      yield* waitAfter(result.success)
    }
  })

  return Effect.forkDetach(loop)
}
