/**
 * Running one claimed job: register it as held (the runner's lease keeper
 * heartbeats it from then on), start its attempt (see `../attempt.ts`); when
 * the handler ends, free the slot, write the last progress and settle the
 * attempt. Per job: this fiber and the handler's, nothing else unless the
 * handler reports progress.
 *
 * @internal
 */
import { Cause, Clock, Effect, Exit, Fiber } from "effect"
import type { JobRecord, Json, Lease } from "../../Job.js"
import type { JobContext as JobContextShape } from "../../JobContext.js"
import * as Attempt from "../attempt.js"
import * as DurableSteps from "../durableSteps.js"
import * as Telemetry from "../telemetry.js"
import { Stopper } from "./cancellation.js"
import type { CompletionBatcher } from "./completionBatcher.js"
import * as JobContext from "./jobContext.js"
import { LazyAbort } from "./lazyAbort.js"
import type { LeaseKeeper } from "./leaseKeeper.js"
import * as ProgressWriter from "./progressWriter.js"
import { settle } from "./settle.js"
import type { Running, RunnerState } from "./state.js"

/** The runner-wide parts a job's run uses. */
export interface Parts {
  readonly completions: CompletionBatcher
  readonly keeper: LeaseKeeper
}

const run = (state: RunnerState, parts: Parts, job: JobRecord) => {
  const { settings, store } = state
  const lease: Lease = { id: job.id, token: job.token }
  const stopper = new Stopper()
  // the attempt's ctx.log lines, written by the progress writer
  const logs = Telemetry.logBuffer(job.attempts)
  const progress = ProgressWriter.make(store, lease, settings.progressMs, stopper, logs)
  return Effect.gen(function*() {
    const def = state.definitions.get(job.type)!
    const abort = new LazyAbort()
    const now = yield* Clock.currentTimeMillis
    const entry: Running = {
      job,
      stop: stopper.stop,
      beatNow: () => parts.keeper.beatNow(entry),
      nextBeatAt: now + settings.heartbeatMs
    }
    state.running.set(job.id, entry)
    parts.keeper.held()

    // the attempt's span (a child of the enqueue span), metrics, lifecycle logs; no-ops when off
    const observer = yield* Telemetry.attempt(yield* Telemetry.current, job, settings.workerId)
    // durable steps are set up at the first ctx.step / ctx.sleep: most handlers call neither
    let durable: Pick<JobContextShape, "step" | "sleep"> | undefined
    const steps = () => (durable ??= DurableSteps.make(store, lease, job, stopper.stop("leaseLost")))
    const context = JobContext.make(
      job,
      abort,
      progress.report,
      { step: (name, work, options) => steps().step(name, work, options), sleep: (duration) => steps().sleep(duration) },
      { observer, logs, logged: progress.logged }
    )
    // with telemetry off, the attempt costs what it did before telemetry: no "job started"
    // line, no span wrapping, no settle observer (each is work per job)
    const active = observer.active
    if (active) yield* observer.lifecycle("job started", job)

    const attempt = Attempt.make(def, job.payload, context, abort, () => stopper.reason !== null)
    const handler = yield* ((active ? observer.within(attempt) : attempt).pipe(
      Effect.annotateLogs({ jobId: job.id, type: job.type, attempt: job.attempts, ...observer.ids }),
      Effect.provideContext(state.services as never),
      Effect.forkChild
    ) as Effect.Effect<Fiber.Fiber<Json, unknown>>)
    yield* stopper.attach(handler)

    const exit: Exit.Exit<Json, unknown> = yield* Fiber.await(handler)
    // the next job may start while this one's result is written; the lease keeper skips it
    entry.settling = true
    state.wake()
    yield* progress.close
    const settling = settle(state, parts.completions, job, lease, exit, stopper.reason, def)
    const settled = yield* (active
      ? settling.pipe(observer.within, Effect.onError(() => observer.settled(exit, null, "lost")))
      : settling)
    if (active) {
      // a durable sleep ends the attempt without failing it
      const slept = DurableSteps.slept(exit)
      yield* observer.settled(slept ? Exit.void : exit, settled, slept ? "sleeping" : Telemetry.outcomeOf(settled))
    }
    if (settled) yield* observer.lifecycle(`job ${settled.status}`, settled)
  }).pipe(
    Effect.catchCause((cause) =>
      Cause.hasInterruptsOnly(cause)
        ? Effect.void
        : Effect.logError(`jobtrack: runner failed to settle job ${job.id}`, Cause.pretty(cause))
    ),
    Effect.ensuring(Effect.andThen(
      progress.dispose,
      Effect.sync(() => {
        state.running.delete(job.id)
        state.wake()
      })
    ))
  )
}

/** Start running a claimed job on its own fiber. */
export const start = (state: RunnerState, parts: Parts, job: JobRecord): Effect.Effect<void> =>
  Effect.gen(function*() {
    // registers itself in `running` synchronously, before any other fiber runs
    const done = yield* Effect.forkDetach(run(state, parts, job), { startImmediately: true })
    const entry = state.running.get(job.id)
    if (entry) entry.done = done
  })
