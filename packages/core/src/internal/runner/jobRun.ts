/**
 * Running one claimed job: register it as held (the runner's lease keeper
 * heartbeats it from then on), start its attempt (see `../attempt.ts`) on a
 * fiber of its own; when the handler ends, free the slot, write the last
 * progress and settle the attempt.
 *
 * Per job: one object for the run (its entry in `running`, its stop reason,
 * its context's source, its completion's waiter), one for the handler's
 * context, and the attempt's fiber, nothing else unless the handler uses more
 * (its log buffer and progress writer are made at the first `ctx.log` or
 * `ctx.progress`). A claimed batch is started by one scheduled task, with one
 * clock read. A completed attempt with nothing else to write (no progress or
 * log line, not stopped, nothing observed) is settled without an Effect: its
 * completion is handed to the completion batcher and the run ends when the
 * batch is committed. Any other outcome is settled on a second fiber, by
 * `settle`.
 *
 * @internal
 */
import { Cause, Clock, Context, Effect, Exit, References } from "effect"
import type { Fiber, Scheduler } from "effect"
import type { JobRecord, Json, Lease } from "../../Job.js"
import type * as JobDefinition from "../../JobDefinition.js"
import type { JobContext as JobContextShape } from "../../JobContext.js"
import type { LeaseLost, StoreError } from "../../JobError.js"
import * as AsyncHandler from "../asyncHandler.js"
import * as Attempt from "../attempt.js"
import * as DurableSteps from "../durableSteps.js"
import * as Telemetry from "../telemetry.js"
import { Stopper } from "./cancellation.js"
import type { CompletionBatcher, Waiter } from "./completionBatcher.js"
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

/** What the runs started from one fiber (the claim loop's) share, worked out at its first job. */
interface Launcher {
  readonly fiber: Fiber.Fiber<unknown, unknown>
  /** Where the attempts' fibers are started: on the starting fiber's scheduler, after the claimed batch is registered. */
  readonly dispatcher: Scheduler.SchedulerDispatcher
  /** The runs registered and not begun yet: one task begins them all (one scheduled task per claimed batch). */
  pending: Array<Run>
  /** When the first of the pending runs was registered: the whole batch's heartbeats are counted from it. */
  pendingSince: number
  /** Begin the pending runs (the scheduled task). */
  readonly beginPending: () => void
  /** The starting fiber's context: settling runs in it. */
  readonly parent: Context.Context<never>
  /** The handlers' context: the parent's with the definitions' services. */
  readonly handlers: Context.Context<never>
  /** The log annotations in force before the job's own. */
  readonly annotations: Readonly<Record<string, unknown>>
  /** There are some. */
  readonly annotated: boolean
  readonly clock: Clock.Clock
  /** The observer of every attempt when nothing observes them (no Effect needed to make it). */
  readonly quiet: Telemetry.AttemptObserver | undefined
  /** Debug lines are written: settling logs them, so it runs as an Effect. */
  readonly debug: boolean
}

const launchers = new WeakMap<RunnerState, Launcher>()

const launcherOf = (state: RunnerState, parent: Fiber.Fiber<unknown, unknown>): Launcher => {
  let launcher = launchers.get(state)
  if (launcher === undefined || launcher.fiber !== parent || launcher.parent !== parent.context) {
    const context = parent.context
    const made: Launcher = launcher = {
      fiber: parent,
      dispatcher: parent.currentDispatcher,
      pending: [],
      pendingSince: 0,
      beginPending: () => {
        const runs = made.pending
        made.pending = []
        for (let i = 0; i < runs.length; i++) runs[i]!.begin()
      },
      parent: context,
      handlers: Context.merge(context, state.services),
      annotations: Context.get(context, References.CurrentLogAnnotations),
      annotated: Object.keys(Context.get(context, References.CurrentLogAnnotations)).length > 0,
      clock: Context.get(context, Clock.Clock),
      quiet: Telemetry.quietIn(context, state.settings.workerId),
      debug: Telemetry.debugIn(context)
    }
    launchers.set(state, launcher)
  }
  return launcher
}

/** One claimed job's run: its entry in the runner's `running`, its stopper, its context's source. */
class Run extends Stopper implements Running, JobContext.Source, Waiter {
  nextBeatAt: number
  beating = false
  settling = false
  readonly lease: Lease
  readonly abort = new LazyAbort()
  /** Made at the first ctx.log line, progress report or settling that needs them: most no-op handlers never do. */
  private madeLogs: Telemetry.LogBuffer | undefined
  private madeWriter: ProgressWriter.ProgressWriter | undefined
  private steps: Pick<JobContextShape, "step" | "sleep"> | undefined
  /** The handler's context (a plain async handler's Promise is found by it). */
  private context: JobContextShape | undefined

  constructor(
    readonly state: RunnerState,
    readonly parts: Parts,
    readonly launcher: Launcher,
    readonly job: JobRecord,
    readonly def: JobDefinition.Any,
    readonly observer: Telemetry.AttemptObserver,
    startedAt: number
  ) {
    super()
    this.lease = { id: job.id, token: job.token }
    this.nextBeatAt = startedAt + state.settings.heartbeatMs
  }

  /** The attempt's ctx.log lines, written by the progress writer. */
  get logs(): Telemetry.LogBuffer {
    return (this.madeLogs ??= Telemetry.logBuffer(this.job.attempts))
  }

  get writer(): ProgressWriter.ProgressWriter {
    return (this.madeWriter ??= ProgressWriter.make(this.state.store, this.lease, this.state.settings.progressMs, this, this.logs))
  }

  beatNow(): void {
    this.parts.keeper.beatNow(this)
  }

  /** Durable steps are set up at the first ctx.step / ctx.sleep: most handlers call neither. */
  durable(): Pick<JobContextShape, "step" | "sleep"> {
    const { settings, store } = this.state
    return (this.steps ??= DurableSteps.make(store, this.lease, this.job, this.stop("leaseLost"), settings.maxResultBytes))
  }

  /** Start the attempt's fiber soon (as a forked fiber starts): the claim loop registers its whole batch first. */
  launch(): void {
    const launcher = this.launcher
    if (launcher.pending.push(this) === 1) launcher.dispatcher.scheduleTask(launcher.beginPending, 0)
  }

  /** Start the attempt's fiber (the launcher's task, with the rest of its batch). */
  begin(): void {
    const { def, job, launcher, observer } = this
    const context = JobContext.make(this)
    this.context = context
    const attempt = Attempt.make(def, job.payload, context, this.abort, () => this.reason !== null, this.state.settings.maxResultBytes)
    const annotations = launcher.annotated || observer.active
      ? { ...launcher.annotations, jobId: job.id, type: job.type, attempt: job.attempts, ...observer.ids }
      : { jobId: job.id, type: job.type, attempt: job.attempts }
    const handler = Effect.runForkWith(Context.add(launcher.handlers, References.CurrentLogAnnotations, annotations))(
      (observer.active ? observer.within(attempt) : attempt) as Effect.Effect<Json, unknown>
    )
    this.attach(handler)
    // a handler that needs no I/O (a no-op) has ended already: no observer to register
    const exit = handler.pollUnsafe()
    if (exit !== undefined) this.ended(exit)
    else handler.addObserver((exit) => this.ended(exit))
  }

  /**
   * The handler's fiber ended. A plain async handler stopped by the runner or
   * its timeout (its signal aborted) may still be running: its Promise was
   * only dropped. The attempt is over once that Promise settles (at most
   * `abandonAfter`): until then the job keeps its slot, its group's place and
   * its lease, so no retry and no other job of its group runs beside it.
   */
  private ended(exit: Exit.Exit<Json, unknown>): void {
    this.handlerEnded()
    Attempt.abortIfInterrupted(exit, this.abort, () => this.reason !== null)
    if (exit._tag === "Failure" && this.abort.isAborted && this.context !== undefined) {
      const body = AsyncHandler.bodyOf(this.context)
      if (body !== undefined) {
        Effect.runForkWith(this.launcher.parent)(this.awaitBody(body, exit))
        return
      }
    }
    this.over(exit)
  }

  /** Wait (at most `abandonAfter`) for the stopped async handler's Promise to settle, then end the attempt. */
  private awaitBody(body: PromiseLike<unknown>, exit: Exit.Exit<Json, unknown>): Effect.Effect<void> {
    const { job, state } = this
    const limit = state.settings.abandonMs
    return Effect.promise(() => Promise.resolve(body).then(() => true, () => true)).pipe(
      Effect.timeoutOption(limit),
      Effect.flatMap((settled) =>
        settled._tag === "Some"
          ? Effect.void
          : Effect.logWarning(
            `jobtrack: the handler of job ${job.id} did not settle within ${limit} ms after it was stopped ` +
              `(${this.reason ?? "timeout"}; it ignores ctx.signal): abandoned, its slot is freed while it may still run`
          ).pipe(Effect.annotateLogs({ jobId: job.id, type: job.type, attempt: job.attempts }))
      ),
      Effect.ensuring(Effect.sync(() => this.over(exit)))
    )
  }

  /** The attempt is over: free the slot, then settle. */
  private over(exit: Exit.Exit<Json, unknown>): void {
    // the next job may start while this one's result is written; the lease keeper skips it
    this.settling = true
    this.state.wake()
    if (
      exit._tag === "Success" && this.reason === null && !this.madeWriter?.used && !this.observer.active &&
      !this.launcher.debug
    ) {
      this.parts.completions.completeUnsafe(this.lease, exit.value, this)
    } else {
      Effect.runForkWith(this.launcher.parent)(this.settleAsEffect(exit))
    }
  }

  /** The batched completion is committed (or refused: the lease was lost, or the store failed). */
  completed(failure: LeaseLost | StoreError | undefined): void {
    // a refused completion is a debug line ("lease lost before settling"), not written here (see `ended`)
    if (failure?._tag === "StoreError") {
      Effect.runForkWith(this.launcher.parent)(
        Effect.logError(`jobtrack: runner failed to settle job ${this.job.id}`, Cause.pretty(Cause.fail(failure)))
      )
    }
    this.state.release(this.job.id)
  }

  /** Settling as an Effect: write the last progress, then the outcome; observed when telemetry is on. */
  private settleAsEffect(exit: Exit.Exit<Json, unknown>): Effect.Effect<void> {
    const run = this
    const { def, job, lease, observer, parts, state, writer } = this
    return Effect.gen(function*() {
      yield* writer.close
      const settling = settle(state, parts.completions, job, lease, exit, run.reason, def)
      const active = observer.active
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
          : state.stopping
          // a handler that settled after shutdown stopped waiting for it: the store may be closed
          ? Effect.logWarning(`jobtrack: job ${job.id} was not settled after shutdown; left to lease recovery`, Cause.pretty(cause))
          : Effect.logError(`jobtrack: runner failed to settle job ${job.id}`, Cause.pretty(cause))
      ),
      Effect.ensuring(Effect.andThen(writer.dispose, Effect.sync(() => state.release(job.id))))
    )
  }
}

const launch = (state: RunnerState, parts: Parts, launcher: Launcher, job: JobRecord, observer: Telemetry.AttemptObserver) => {
  // one clock read per claimed batch (its jobs were claimed together)
  if (launcher.pending.length === 0) launcher.pendingSince = launcher.clock.currentTimeMillisUnsafe()
  const run = new Run(state, parts, launcher, job, state.definitions.get(job.type)!, observer, launcher.pendingSince)
  state.running.set(job.id, run)
  parts.keeper.held()
  run.launch()
}

/**
 * Start running a claimed batch, each job on its own fiber, each registered in
 * `running` before this returns; or hand back (`giveBack`) the jobs met once
 * the runner is stopping. Without telemetry nothing here yields, so the whole
 * batch is started in one step (no Effect per job); with it, job by job.
 */
export const startAll = (
  state: RunnerState,
  parts: Parts,
  jobs: ReadonlyArray<JobRecord>,
  giveBack: (jobs: ReadonlyArray<JobRecord>) => Effect.Effect<void>
): Effect.Effect<void> =>
  Effect.withFiber((parent) => {
    const launcher = launcherOf(state, parent)
    const quiet = launcher.quiet
    if (quiet === undefined) {
      // checked per job: starting one may yield, and shutdown may begin meanwhile
      return Effect.forEach(jobs, (job) => (state.stopping ? giveBack([job]) : start(state, parts, job)), { discard: true })
    }
    if (state.stopping) return giveBack(jobs)
    for (let i = 0; i < jobs.length; i++) launch(state, parts, launcher, jobs[i]!, quiet)
    return Effect.void
  })

/**
 * Start running a claimed job on its own fiber. It is registered in `running`
 * before this returns (before any other fiber runs).
 */
export const start = (state: RunnerState, parts: Parts, job: JobRecord): Effect.Effect<void> =>
  Effect.withFiber((parent) => {
    const launcher = launcherOf(state, parent)
    if (launcher.quiet) {
      launch(state, parts, launcher, job, launcher.quiet)
      return Effect.void
    }
    // observed: the attempt's span (a child of the enqueue span), metrics, lifecycle logs
    return Effect.flatMap(Telemetry.current, (settings) =>
      Effect.flatMap(Telemetry.attempt(settings, job, state.settings.workerId), (observer) => {
        const started = Effect.sync(() => launch(state, parts, launcher, job, observer))
        return observer.active ? Effect.andThen(observer.lifecycle("job started", job), started) : started
      }))
  })
