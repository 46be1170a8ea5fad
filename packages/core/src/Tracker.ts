/**
 * The tracker: what host code calls to enqueue, read, cancel, retry, delete
 * and watch jobs. It validates every payload with its definition's Schema
 * before anything reaches the store.
 *
 * `make` assembles the verbs; the enqueue (validation, options, telemetry)
 * is `internal/tracker/enqueue.ts`, the watch `internal/tracker/watch.ts`.
 *
 * @since 0.1.0
 */
import { Context, Deferred, Duration, Effect, Layer } from "effect"
import type { Stream } from "effect"
import * as Job from "./Job.js"
import type { JobRecord, JobSummary, JobSummaryView, JobView, Json } from "./Job.js"
import * as JobDefinition from "./JobDefinition.js"
import { InvalidInput, InvalidOptions, UnknownJobType } from "./JobError.js"
import type { InvalidTransition, JobNotFound, StoreError } from "./JobError.js"
import * as JobResult from "./JobResult.js"
import * as PayloadSchema from "./PayloadSchema.js"
import * as QueuePosition from "./QueuePosition.js"
import { JobStore } from "./JobStore.js"
import type { ListFilter, Stats, StatsFilter } from "./JobStore.js"
import type { LogLine } from "./JobLogStore.js"
import * as ChangeHub from "./internal/changeHub.js"
import * as EffectModules from "./internal/effectModules.js"
import * as Options from "./internal/options.js"
import * as RunnerOptions from "./internal/runner/validate.js"
import { registry } from "./internal/registry.js"
import * as Telemetry from "./internal/telemetry.js"
import { enqueuer } from "./internal/tracker/enqueue.js"
import { watcher } from "./internal/tracker/watch.js"

/**
 * Per-job options of an enqueue.
 *
 * @since 0.1.0
 * @category models
 */
export interface EnqueueOptions<Trx = never> {
  /** Who the job belongs to; owner-scoped reads check it. */
  readonly owner?: string | undefined
  /** External identity within the owner: at most one non-terminal job per (type, owner, key). */
  readonly key?: string | undefined
  /** Higher runs first; default: the definition's (0). Integer in [-1000, 1000]. */
  readonly priority?: number | undefined
  /** Not before this time. */
  readonly runAt?: Date | undefined
  /** Not before this long from now (ignored when runAt is given). */
  readonly delay?: Duration.Input | undefined
  /**
   * Enqueue inside the caller's transaction, so the job commits or rolls back
   * with the host's own writes (adapter-kysely: a Kysely `Transaction`).
   * In `enqueueMany`, the first item's transaction is used for the batch.
   * Through `Jobtrack.make`, its type comes from the store layer. The Effect
   * `Tracker` is not tied to one store, so it takes none here (`never`): an
   * Effect program joins a transaction with its store's typed helper instead
   * (adapter-kysely: `KyselyStore.inTransaction(trx)`).
   */
  readonly transaction?: Trx | undefined
}

/**
 * The result of an enqueue: the stored job, and whether it was created or an
 * existing job with the same key was returned. (No queue position: it costs a
 * query; `get` the job for its view.)
 *
 * @since 0.1.0
 * @category models
 */
export interface Enqueued {
  readonly job: JobRecord
  readonly created: boolean
}

/**
 * A page of list items, newest first: each job's summary and queue position,
 * without its payload, result, errors or steps (since 0.2.0: `get` has them).
 *
 * @since 0.1.0
 * @category models
 */
export interface ViewPage {
  readonly items: ReadonlyArray<JobSummaryView>
  readonly nextCursor: string | null
}

/**
 * @since 0.1.0
 * @category models
 */
export interface TrackerShape {
  readonly enqueue: <P extends JobDefinition.Codec, A extends JobDefinition.Codec, E, R>(
    definition: JobDefinition.JobDefinition<P, A, E, R>,
    payload: PayloadSchema.Input<P>,
    options?: EnqueueOptions
  ) => Effect.Effect<Enqueued, InvalidInput | StoreError>
  /** Validate every item first; store all in one round trip, or none when any is invalid. */
  readonly enqueueMany: <P extends JobDefinition.Codec, A extends JobDefinition.Codec, E, R>(
    definition: JobDefinition.JobDefinition<P, A, E, R>,
    items: ReadonlyArray<{ readonly payload: PayloadSchema.Input<P>; readonly options?: EnqueueOptions }>
  ) => Effect.Effect<ReadonlyArray<Enqueued>, InvalidInput | StoreError>
  /** Enqueue by type name with an untrusted payload (e.g. from HTTP). */
  readonly enqueueUnknown: (
    type: string,
    payload: unknown,
    options?: EnqueueOptions
  ) => Effect.Effect<Enqueued, UnknownJobType | InvalidInput | StoreError>
  readonly get: (id: string) => Effect.Effect<JobView, JobNotFound | StoreError>
  readonly findByKey: (type: string, key: string) => Effect.Effect<JobView, JobNotFound | StoreError>
  readonly list: (filter: ListFilter) => Effect.Effect<ViewPage, StoreError>
  readonly cancel: (id: string) => Effect.Effect<JobView, JobNotFound | InvalidTransition | StoreError>
  readonly retry: (id: string) => Effect.Effect<JobView, JobNotFound | InvalidTransition | StoreError>
  readonly delete: (id: string) => Effect.Effect<void, JobNotFound | InvalidTransition | StoreError>
  /**
   * The job's view now, then on every change, ending after a terminal view,
   * or when the tracker's layer is released (`Tracker.layer`, a `Jobtrack`'s
   * `close()`).
   */
  readonly watch: (id: string) => Stream.Stream<JobView, JobNotFound | StoreError>
  readonly stats: (filter?: StatsFilter) => Effect.Effect<Stats, StoreError>
  /** The lines the job's attempts wrote with `ctx.log`, oldest first (bounded: see `JobLogStore`). */
  readonly logs: (id: string) => Effect.Effect<ReadonlyArray<LogLine>, JobNotFound | StoreError>
  /**
   * Wait for the job's terminal state (completed in any process sharing the
   * store) and return its result — decoded and typed by `definition` when
   * given — or fail with `JobFailed` / `JobCancelled` (see `JobResult`).
   */
  readonly result: {
    (id: string, options?: JobResult.ResultOptions): Effect.Effect<Json | null, JobResult.ResultError>
    <D extends JobDefinition.Any>(
      id: string,
      options: JobResult.TypedResultOptions<D>
    ): Effect.Effect<JobResult.ResultOf<D>, JobResult.ResultError>
  }
  /** The definitions this tracker knows, by type. */
  readonly definitions: ReadonlyMap<string, JobDefinition.Any>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface TrackerOptions {
  readonly definitions: ReadonlyArray<JobDefinition.Any>
  /**
   * The period of the fallback poll for `watch`, in case a change notification is lost: one
   * store read per period per process (the watchers of one job, round-robin), shared by every
   * tracker over the same store; the first tracker sets it (default 1 s).
   */
  readonly watchPollInterval?: Duration.Input
}

/**
 * The tracker service.
 *
 * @example
 * ```ts
 * const program = Effect.gen(function*() {
 *   const tracker = yield* Tracker
 *   const { job } = yield* tracker.enqueue(extractText, { fileUrl: "s3://a.pdf" }, { owner: "ann" })
 *   yield* tracker.watch(job.id).pipe(Stream.runForEach((v) => Effect.log(v.status, v.progress)))
 * })
 * ```
 * @since 0.1.0
 * @category services
 */
export class Tracker extends Context.Service<Tracker, TrackerShape>()("@jobtrack/core/Tracker") {}

/**
 * Build a tracker over the store in context. Invalid options (two definitions
 * of one type, a `watchPollInterval` of "soon") are a defect: an
 * {@link InvalidOptions} naming every problem.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: TrackerOptions): Effect.Effect<TrackerShape, never, JobStore> => makeWith(options, undefined)

const trackerOptionNames = Options.names<TrackerOptions>({ definitions: true, watchPollInterval: true })

/** The tracker; its watches end (without error) once `closed` completes (the layer's release). */
const makeWith = (options: TrackerOptions, closed: Effect.Effect<void> | undefined): Effect.Effect<TrackerShape, never, JobStore> =>
  Effect.gen(function*() {
    const c = Options.checker()
    RunnerOptions.definitions(c, options.definitions)
    Options.optionalDuration(c, "watchPollInterval", options.watchPollInterval)
    if (Options.isRecord(options)) Options.unknownKeys(c, options as unknown as Record<string, unknown>, trackerOptionNames)
    if (c.issues.length > 0) return yield* Effect.die(new InvalidOptions({ of: "Tracker options", issues: c.issues }))
    const settings = yield* Telemetry.current
    const Streams = yield* EffectModules.Stream.load // `watch` returns its stream at once
    const raw = yield* JobStore
    const store = Telemetry.instrumentStore(settings, raw)
    const definitions = registry(options.definitions)
    const pollInterval = options.watchPollInterval ?? "1 second"

    const view = (job: JobRecord): Effect.Effect<JobView, JobNotFound | StoreError> =>
      job.status === "pending"
        ? Effect.map(store.queuePosition(job.id), (place) => ({ ...job, ...QueuePosition.fields(place) }))
        : Effect.succeed({ ...job, ...QueuePosition.fields(null) })

    // a list item: the summary (whatever else the store returned left out) and its position
    const listItem = (job: JobSummary): Effect.Effect<JobSummaryView, JobNotFound | StoreError> => {
      const item = Job.summary(job)
      return job.status === "pending"
        ? Effect.map(store.queuePosition(job.id), (place) => ({ ...item, ...QueuePosition.fields(place) }))
        : Effect.succeed({ ...item, ...QueuePosition.fields(null) })
    }

    const { enqueueMany, enqueueOne } = enqueuer(store, settings)
    const watch = watcher(Streams, ChangeHub.of(raw, store, pollInterval), closed)

    const tracker: TrackerShape = {
      definitions,
      enqueue: (def, payload, opts) => enqueueOne(def as unknown as JobDefinition.Any, payload, opts),
      enqueueMany: (def, items) => enqueueMany(def as unknown as JobDefinition.Any, items),
      enqueueUnknown: (type, payload, opts) => {
        const def = definitions.get(type)
        return def ? enqueueOne(def, payload, opts) : Effect.fail(new UnknownJobType({ type }))
      },
      get: (id) => store.view(id),
      findByKey: (type, key) => Effect.flatMap(store.findByKey(type, key), view),
      list: (filter) =>
        Effect.flatMap(store.list(filter), (page) =>
          Effect.map(
            Effect.forEach(page.items, (job): Effect.Effect<JobSummaryView, StoreError> =>
              listItem(job).pipe(Effect.catchTag("JobNotFound", () => Effect.succeed({ ...Job.summary(job), ...QueuePosition.fields(null) })))),
            (items) => ({ items, nextCursor: page.nextCursor })
          )),
      // an onCancelled hook is recorded by the store with the cancel, delivered by a runner
      cancel: (id) => Effect.flatMap(store.cancel(id), (job) => Effect.andThen(Telemetry.cancelledNow(settings, job), view(job))),
      retry: (id) => Effect.flatMap(store.retry(id), view),
      delete: (id) => store.delete(id),
      watch,
      stats: (filter) => store.stats(filter ?? {}),
      logs: (id) => store.logs(id),
      result: ((id: string, options?: JobResult.ResultOptions & { readonly definition?: JobDefinition.Any }) =>
        JobResult.fromViews(id, watch(id), options)) as TrackerShape["result"]
    }
    return tracker
  })

/**
 * The tracker as a layer over the store in context. Releasing the layer
 * ends every watch of this tracker (a `Jobtrack`'s `close()` ends the SSE
 * streams a router serves from it).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: TrackerOptions): Layer.Layer<Tracker, never, JobStore> =>
  Layer.effect(
    Tracker,
    Effect.gen(function*() {
      // released with the layer (a `Jobtrack`'s `close()`): every watch of this tracker ends then
      const closed = yield* Deferred.make<void>()
      yield* Effect.addFinalizer(() => Deferred.succeed(closed, undefined))
      return yield* makeWith(options, Deferred.await(closed))
    })
  )
