/**
 * The Promise facade: the tracker and a runner with the same names as the
 * Effect API, for hosts that are not written with Effect. Failures reject
 * with the same tagged errors (`err._tag === "JobNotFound"`…).
 *
 * @since 0.1.0
 */
import { Data, Effect, Exit, Layer, ManagedRuntime, Scope } from "effect"
import type { Duration } from "effect"
import type { JobRecord, JobView, Json } from "./Job.js"
import type * as JobDefinition from "./JobDefinition.js"
import type * as PayloadSchema from "./PayloadSchema.js"
import { InvalidOptions } from "./JobError.js"
import type { InvalidInput, InvalidTransition, JobNotFound, StoreError, UnknownJobType } from "./JobError.js"
import type { Hooks } from "./Hooks.js"
import type { LogLine } from "./JobLogStore.js"
import * as Telemetry from "./Telemetry.js"
import { JobStore } from "./JobStore.js"
import type { ListFilter, Stats, StatsFilter, StoreLayer } from "./JobStore.js"
import * as Runner from "./Runner.js"
import * as JobSchedule from "./JobSchedule.js"
import * as Scheduler from "./Scheduler.js"
import type { ScheduleNotFound } from "./ScheduleStore.js"
import * as Tracker from "./Tracker.js"
import * as EffectModules from "./internal/effectModules.js"
import * as Options from "./internal/options.js"
import * as RunnerOptions from "./internal/runner/validate.js"
import type * as JobResult from "./JobResult.js"

/**
 * A definition whose handler needs no services (the facade provides none).
 *
 * @since 0.1.0
 * @category models
 */
export type PlainDefinition = JobDefinition.JobDefinition<JobDefinition.Codec, JobDefinition.Codec, unknown, never>

/**
 * @since 0.1.0
 * @category models
 */
export interface JobtrackOptions<Trx = never> {
  /**
   * The store layer, e.g. `MemoryStore.layer` or the PostgreSQL store's. Its
   * transaction type (see `StoreLayer`) types `EnqueueOptions.transaction`.
   */
  readonly store: StoreLayer<Trx, StoreError>
  readonly definitions: ReadonlyArray<PlainDefinition>
  /** Delivered at least once by the runner `start()` starts (see `HookDelivery`). */
  readonly hooks?: Hooks
  /** Runner settings used by `start()`. */
  readonly runner?: Omit<Runner.RunnerOptions, "definitions" | "hooks">
  readonly watchPollInterval?: Duration.Input
  /**
   * Turn on traces, metrics and lifecycle logs (see `Telemetry`); with
   * `otlp`, export them to an OpenTelemetry collector. Default: off.
   */
  readonly telemetry?: Telemetry.TelemetryOptions | undefined
  /**
   * Cron schedules (see `JobSchedule`), fired by `start()`: one job per tick
   * across every process sharing the store. Checked at once: an invalid
   * expression, time zone, payload or a duplicate name throws `InvalidSchedules`.
   */
  readonly schedules?: ReadonlyArray<JobSchedule.Any>
}

/**
 * The schedules API of the Promise facade (see `Scheduler.SchedulesShape`).
 *
 * @since 0.2.0
 * @category models
 */
export interface SchedulesApi {
  readonly list: () => Promise<ReadonlyArray<Scheduler.ScheduleInfo>>
  readonly get: (name: string) => Promise<Scheduler.ScheduleInfo>
  readonly pause: (name: string) => Promise<Scheduler.ScheduleInfo>
  readonly resume: (name: string) => Promise<Scheduler.ScheduleInfo>
  readonly trigger: (name: string) => Promise<JobRecord>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Jobtrack<Trx = never> {
  readonly enqueue: <P extends JobDefinition.Codec, A extends JobDefinition.Codec, E, R>(
    definition: JobDefinition.JobDefinition<P, A, E, R>,
    payload: PayloadSchema.Input<P>,
    options?: Tracker.EnqueueOptions<Trx>
  ) => Promise<Tracker.Enqueued>
  readonly enqueueMany: <P extends JobDefinition.Codec, A extends JobDefinition.Codec, E, R>(
    definition: JobDefinition.JobDefinition<P, A, E, R>,
    items: ReadonlyArray<{ readonly payload: PayloadSchema.Input<P>; readonly options?: Tracker.EnqueueOptions<Trx> }>
  ) => Promise<ReadonlyArray<Tracker.Enqueued>>
  readonly enqueueUnknown: (type: string, payload: unknown, options?: Tracker.EnqueueOptions<Trx>) => Promise<Tracker.Enqueued>
  readonly get: (id: string) => Promise<JobView>
  readonly findByKey: (type: string, key: string) => Promise<JobView>
  readonly list: (filter?: ListFilter) => Promise<Tracker.ViewPage>
  readonly cancel: (id: string) => Promise<JobView>
  readonly retry: (id: string) => Promise<JobView>
  readonly delete: (id: string) => Promise<void>
  /** Views until terminal; breaking out of the loop unsubscribes. */
  readonly watch: (id: string) => AsyncIterable<JobView>
  readonly stats: (filter?: StatsFilter) => Promise<Stats>
  /** The lines the job's attempts wrote with `ctx.log`, oldest first. */
  readonly logs: (id: string) => Promise<ReadonlyArray<LogLine>>
  /**
   * Wait for the job's terminal state, from any process sharing the store:
   * resolves with its result (decoded and typed by `definition` when given),
   * rejects with `JobFailed` or `JobCancelled` (tagged, see `JobResult`).
   *
   * @example
   * ```ts
   * const { job } = await jobs.enqueue(extractText, { fileUrl })
   * const { text } = await jobs.result(job.id, { definition: extractText })
   * ```
   */
  readonly result: {
    (id: string, options?: JobResult.ResultOptions): Promise<Json | null>
    <D extends JobDefinition.Any>(id: string, options: JobResult.TypedResultOptions<D>): Promise<JobResult.ResultOf<D>>
  }
  /** The configured schedules: next runs, pause, resume, trigger now. */
  readonly schedules: SchedulesApi
  /** Start a runner (and the schedules' loops, when configured) in this process (once). */
  readonly start: () => Promise<void>
  /** Shut the runner down gracefully (if started). */
  readonly stop: () => Promise<void>
  /**
   * Stop the runner and release the store. Every call after it rejects with
   * {@link JobtrackClosed} (`stop()` and `close()` again resolve).
   */
  readonly close: () => Promise<void>
  /** The Effect tracker, for code that mixes both styles (and for the Koa router). */
  readonly tracker: () => Promise<Tracker.TrackerShape>
  /** The runtime holding the store and the tracker. */
  readonly runtime: ManagedRuntime.ManagedRuntime<JobStore | Tracker.Tracker, StoreError>
}

/**
 * What every call on a {@link Jobtrack} rejects with once `close()` was
 * called (`stop()` and `close()` again resolve), and what a call cut short
 * by `close()` (a `start()` in progress) rejects with.
 *
 * @example
 * ```ts
 * try {
 *   await jobs.enqueue(extractText, { fileUrl })
 * } catch (e) {
 *   if (e instanceof Jobtrack.JobtrackClosed) return // shutting down: nothing to do
 *   throw e
 * }
 * ```
 * @since 0.2.0
 * @category errors
 */
export class JobtrackClosed extends Data.TaggedError("JobtrackClosed")<{ readonly cause?: unknown }> {
  override get message(): string {
    return "jobtrack is closed (close() was called)"
  }
}

/**
 * Errors a facade call may reject with.
 *
 * @since 0.1.0
 * @category errors
 */
export type JobtrackError =
  | InvalidInput
  | InvalidTransition
  | JobNotFound
  | StoreError
  | UnknownJobType
  | ScheduleNotFound
  | JobSchedule.InvalidSchedules
  | InvalidOptions
  | JobtrackClosed

/** Every option of `JobtrackOptions`. */
const optionNames = Options.names<JobtrackOptions<unknown>>({
  store: true,
  definitions: true,
  hooks: true,
  runner: true,
  watchPollInterval: true,
  telemetry: true,
  schedules: true
})

/** Every problem of the facade's options (definitions, runner settings…), as one error. */
const check = (options: JobtrackOptions<unknown>): InvalidOptions | undefined => {
  const c = Options.checker()
  if (!Options.isRecord(options)) Options.add(c, undefined, `must be an object (got ${Options.show(options)})`)
  else {
    if (!Layer.isLayer(options.store)) Options.add(c, "store", `must be a store layer, e.g. MemoryStore.layer (got ${Options.show(options.store)})`)
    RunnerOptions.definitions(c, options.definitions)
    const runner: unknown = options.runner
    if (runner !== undefined) {
      if (!Options.isRecord(runner)) Options.add(c, "runner", `must be an object (got ${Options.show(runner)})`)
      else {
        RunnerOptions.settings(Options.under(c, "runner"), runner)
        Options.unknownKeys(Options.under(c, "runner"), runner, RunnerOptions.settingNames)
      }
    }
    RunnerOptions.hooks(c, options.hooks)
    Options.optionalDuration(c, "watchPollInterval", options.watchPollInterval)
    Options.unknownKeys(c, options as unknown as Record<string, unknown>, optionNames)
  }
  return c.issues.length > 0 ? new InvalidOptions({ of: "Jobtrack options", issues: c.issues }) : undefined
}

/**
 * Every option is checked at once: invalid ones (a runner `concurrency` of 0,
 * a `lease` of "soon", two definitions of one type…) throw one
 * {@link InvalidOptions} naming them all.
 *
 * @example
 * ```ts
 * const jobs = Jobtrack.make({ store: MemoryStore.layer, definitions: [extractText] })
 * await jobs.start()
 * const { job } = await jobs.enqueue(extractText, { fileUrl: "s3://a.pdf" })
 * for await (const view of jobs.watch(job.id)) console.log(view.status, view.progress)
 * await jobs.close()
 * ```
 * @since 0.1.0
 * @category constructors
 */
export const make = <Trx = never>(options: JobtrackOptions<Trx>): Jobtrack<Trx> => {
  const invalid = check(options as JobtrackOptions<unknown>)
  if (invalid) throw invalid
  const layer = Tracker.layer({
    definitions: options.definitions,
    ...(options.watchPollInterval ? { watchPollInterval: options.watchPollInterval } : {})
  }).pipe(
    Layer.provideMerge(options.store),
    // merged, not only provided: the runner started later runs in this runtime and needs the tracer too
    Layer.provideMerge(options.telemetry ? Telemetry.layer(options.telemetry) : Layer.empty)
  )
  let runtime = ManagedRuntime.make(layer)
  /**
   * The runtime, built on first use. When building it fails (the database is
   * down at start), the next call builds it again: callers get the StoreError
   * meanwhile, and the service recovers by itself once the store can start.
   */
  /** Set by `close()`: every call rejects with `JobtrackClosed` from then on. */
  let closing: Promise<void> | undefined
  const ready = async () => {
    if (closing) throw new JobtrackClosed({})
    const built = runtime
    try {
      await built.context()
      return built
    } catch (error) {
      if (closing) throw new JobtrackClosed({ cause: error })
      if (runtime === built) {
        runtime = ManagedRuntime.make(layer)
        built.dispose().catch(() => {})
      }
      throw error
    }
  }
  /**
   * A call cut short by `close()` (the runtime disposed under it, its fiber
   * interrupted) rejects with `JobtrackClosed`; its own tagged errors pass.
   */
  const closedOr = (error: unknown): unknown =>
    closing && !(typeof error === "object" && error !== null && "_tag" in error)
      ? new JobtrackClosed({ cause: error })
      : error
  const run = async <A, E>(effect: Effect.Effect<A, E, Tracker.Tracker | JobStore>) => {
    const built = await ready()
    try {
      return await built.runPromise(effect)
    } catch (error) {
      throw closedOr(error)
    }
  }
  const withTracker = <A, E>(f: (t: Tracker.TrackerShape) => Effect.Effect<A, E>) => run(Tracker.Tracker.use(f))
  /**
   * The transaction was typed by the store layer (`Trx`); the store-agnostic
   * tracker hands it on to the store as the opaque `Transaction` it joins.
   */
  const opaque = <O extends Tracker.EnqueueOptions<Trx> | undefined>(o: O) => o as Tracker.EnqueueOptions | undefined
  let runnerScope: Scope.Closeable | undefined
  const scheduled = options.schedules ?? []
  /** Checked now; a payload schema that validates asynchronously is checked on first use. */
  const parsedNow = scheduled.length === 0 ? [] : JobSchedule.parseSync(scheduled, options.definitions)
  const parsed = parsedNow
    ? Effect.succeed(parsedNow)
    : Effect.cached(JobSchedule.parse(scheduled, options.definitions)).pipe(Effect.runSync)
  const withSchedules = <A, E>(f: (api: Scheduler.SchedulesShape) => Effect.Effect<A, E>) =>
    run(Effect.flatMap(Effect.flatMap(parsed, Scheduler.makeApi), f))

  /** The runner's scope closing, if a stop began: a stop or close called meanwhile waits for it. */
  let stopping: Promise<void> = Promise.resolve()
  const stop = (): Promise<void> => {
    const scope = runnerScope
    runnerScope = undefined
    // close() stops the runner first: its scope closes in the runtime, before it is disposed
    if (scope) stopping = runtime.runPromise(Scope.close(scope, Exit.void))
    return stopping.catch((error: unknown) => Promise.reject(closedOr(error)))
  }
  return {
    get runtime() {
      return runtime
    },
    tracker: () => run(Tracker.Tracker.use(Effect.succeed)),
    enqueue: (def, payload, opts) => withTracker((t) => t.enqueue(def, payload, opaque(opts))),
    enqueueMany: (def, items) =>
      withTracker((t) =>
        t.enqueueMany(def, items.map((item) => (item.options === undefined ? { payload: item.payload } : { payload: item.payload, options: opaque(item.options)! })))
      ),
    enqueueUnknown: (type, payload, opts) => withTracker((t) => t.enqueueUnknown(type, payload, opaque(opts))),
    get: (id) => withTracker((t) => t.get(id)),
    findByKey: (type, key) => withTracker((t) => t.findByKey(type, key)),
    list: (filter = {}) => withTracker((t) => t.list(filter)),
    cancel: (id) => withTracker((t) => t.cancel(id)),
    retry: (id) => withTracker((t) => t.retry(id)),
    delete: (id) => withTracker((t) => t.delete(id)),
    stats: (filter) => withTracker((t) => t.stats(filter)),
    logs: (id) => withTracker((t) => t.logs(id)),
    result: ((id: string, o?: JobResult.TypedResultOptions<JobDefinition.Any>) =>
      withTracker((t) => t.result(id, o!))) as Jobtrack<Trx>["result"],
    schedules: {
      list: () => withSchedules((s) => s.list()),
      get: (name) => withSchedules((s) => s.get(name)),
      pause: (name) => withSchedules((s) => s.pause(name)),
      resume: (name) => withSchedules((s) => s.resume(name)),
      trigger: (name) => withSchedules((s) => s.trigger(name))
    },
    watch: (id) => ({
      async *[Symbol.asyncIterator]() {
        const services = await (await ready()).context().catch((error: unknown) => Promise.reject(closedOr(error)))
        const Stream = await EffectModules.Stream.promise()
        yield* Stream.toAsyncIterableWith(Stream.unwrap(Tracker.Tracker.use((t) => Effect.succeed(t.watch(id)))), services)
      }
    }),
    start: async () => {
      if (closing) throw new JobtrackClosed({})
      if (runnerScope) return
      const scope = await run(Scope.make())
      runnerScope = scope
      await run(
        Runner.make({
          ...options.runner,
          definitions: options.definitions,
          ...(options.hooks ? { hooks: options.hooks } : {})
        }).pipe(Scope.provide(scope))
      )
      if (scheduled.length > 0) await run(Effect.flatMap(parsed, Scheduler.run).pipe(Scope.provide(scope)))
    },
    stop,
    close: () =>
      (closing ??= (async () => {
        try {
          await stop()
        } finally {
          await runtime.dispose()
        }
      })())
  }
}
