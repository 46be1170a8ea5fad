/**
 * Running one claimed job: register it as held, start its progress writer,
 * its attempt (see `../attempt.ts`) and its lease keeper; when the handler
 * ends, free the slot, write the last progress and settle the attempt.
 *
 * @internal
 */
import { Cause, Effect, Fiber } from "effect"
import type { Exit } from "effect"
import type { JobRecord, Json, Lease } from "../../Job.js"
import * as Attempt from "../attempt.js"
import * as DurableSteps from "../durableSteps.js"
import { Stopper } from "./cancellation.js"
import type { CompletionBatcher } from "./completionBatcher.js"
import * as JobContext from "./jobContext.js"
import * as LeaseKeeper from "./leaseKeeper.js"
import * as ProgressWriter from "./progressWriter.js"
import { settle } from "./settle.js"
import type { Running, RunnerState } from "./state.js"

const run = (state: RunnerState, completions: CompletionBatcher, job: JobRecord) =>
  Effect.gen(function*() {
    const { settings, store } = state
    const def = state.definitions.get(job.type)!
    const lease: Lease = { id: job.id, token: job.token }
    const abort = new AbortController()
    const stopper = new Stopper()
    const keeper = yield* LeaseKeeper.make(store, lease, settings, stopper)
    const entry: Running = { job, stop: stopper.stop, beatNow: keeper.beatNow }
    state.running.set(job.id, entry)

    const progress = yield* ProgressWriter.start(store, lease, settings.progressMs, stopper)
    const steps = DurableSteps.make(store, lease, job, stopper.stop("leaseLost"))
    const context = JobContext.make(job, abort.signal, progress.report, steps)

    const attempt = Attempt.make(def, job.payload, context, abort, () => stopper.reason !== null)
    const handler = yield* (attempt.pipe(
      Effect.annotateLogs({ jobId: job.id, type: job.type, attempt: job.attempts }),
      Effect.provideContext(state.services as never),
      Effect.forkChild
    ) as Effect.Effect<Fiber.Fiber<Json, unknown>>)
    yield* stopper.attach(handler)

    const beat = yield* keeper.start

    const exit: Exit.Exit<Json, unknown> = yield* Fiber.await(handler)
    // the next job may start while this one's result is written
    entry.settling = true
    state.wake()
    yield* Fiber.interrupt(beat)
    yield* Fiber.interrupt(progress.fiber)
    yield* progress.flush
    yield* settle(state, completions, job, lease, exit, stopper.reason, def)
  }).pipe(
    Effect.catchCause((cause) =>
      Cause.hasInterruptsOnly(cause)
        ? Effect.void
        : Effect.logError(`jobtrack: runner failed to settle job ${job.id}`, Cause.pretty(cause))
    ),
    Effect.ensuring(Effect.sync(() => {
      state.running.delete(job.id)
      state.wake()
    }))
  )

/** Start running a claimed job on its own fiber. */
export const start = (state: RunnerState, completions: CompletionBatcher, job: JobRecord): Effect.Effect<void> =>
  Effect.gen(function*() {
    // registers itself in `running` synchronously, before any other fiber runs
    const done = yield* Effect.forkDetach(run(state, completions, job), { startImmediately: true })
    const entry = state.running.get(job.id)
    if (entry) entry.done = done
  })
