/**
 * The tracker: what host code calls to enqueue, read, cancel, retry, delete
 * and watch jobs. It validates every payload with its definition's Schema
 * before anything reaches the store.
 *
 * @since 0.1.0
 */
import { Clock, Context, Deferred, Duration, Effect, Layer, Option, Queue } from "effect"
import type { Stream } from "effect"
import { isTerminal } from "./Job.js"
import type { JobRecord, JobView, Json, NewJob } from "./Job.js"
import * as JobDefinition from "./JobDefinition.js"
import { InvalidInput, UnknownJobType } from "./JobError.js"
import type { InvalidTransition, Issue, JobNotFound, StoreError } from "./JobError.js"
import * as JobId from "./JobId.js"
import * as JobResult from "./JobResult.js"
import * as PayloadSchema from "./PayloadSchema.js"
import * as QueuePosition from "./QueuePosition.js"
import { JobStore, Transaction } from "./JobStore.js"
import type { ListFilter, Stats, StatsFilter } from "./JobStore.js"
import type { LogLine } from "./JobLogStore.js"
import * as ChangeHub from "./internal/changeHub.js"
import * as EffectModules from "./internal/effectModules.js"
import { registry } from "./internal/registry.js"
import * as Telemetry from "./internal/telemetry.js"
import * as Storable from "./Storable.js"

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
 * A page of views, newest first.
 *
 * @since 0.1.0
 * @category models
 */
export interface ViewPage {
  readonly items: ReadonlyArray<JobView>
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

/** An item without options (the usual case in a batch): nothing to check. */
const noOptions: EnqueueOptions<unknown> = Object.freeze({})
const noIssues: ReadonlyArray<Issue> = Object.freeze([])
const noPrefix: ReadonlyArray<string | number> = Object.freeze([])
const payloadPath: ReadonlyArray<string | number> = Object.freeze(["payload"])

const checkOptions = (options: EnqueueOptions<unknown>): Array<Issue> => {
  const issues: Array<Issue> = []
  const text = (name: "owner" | "key", value: unknown, max: number) => {
    if (value === undefined) return
    if (typeof value !== "string" || value.length === 0 || value.length > max) {
      issues.push({ path: ["options", name], message: `Expected a non-empty string of at most ${max} characters` })
    } else {
      const problem = Storable.textProblem(value)
      if (problem) issues.push({ path: ["options", name], message: problem })
    }
  }
  text("owner", options.owner, 256)
  text("key", options.key, 2048)
  if (
    options.priority !== undefined &&
    !(Number.isInteger(options.priority) && options.priority >= -1000 && options.priority <= 1000)
  ) {
    issues.push({ path: ["options", "priority"], message: "Expected an integer between -1000 and 1000" })
  }
  if (options.runAt !== undefined && !(options.runAt instanceof Date && !Number.isNaN(options.runAt.getTime()))) {
    issues.push({ path: ["options", "runAt"], message: "Expected a valid Date" })
  }
  if (options.delay !== undefined && Option.isNone(Duration.fromInput(options.delay))) {
    issues.push({ path: ["options", "delay"], message: "Expected a duration" })
  }
  return issues
}

/**
 * What a watcher compares to skip a view equal to the last it emitted. The
 * watchers of one job woken together get one view object (the change hub's
 * shared read), so it is computed once per view, not once per watcher.
 */
const fingerprints = new WeakMap<JobView, string>()
const fingerprintOf = (v: JobView): string => {
  let f = fingerprints.get(v)
  if (f === undefined) {
    f = JSON.stringify([
      v.status, v.progress, v.progressMessage, v.queuePosition, v.queuePositionCapped,
      v.attempts, v.errorMessage, v.cancelRequested, v.updatedAt,
      v.steps?.map((step) => [step.status, step.attempts])
    ])
    fingerprints.set(v, f)
  }
  return f
}

/**
 * Build a tracker over the store in context.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: TrackerOptions): Effect.Effect<TrackerShape, never, JobStore> => makeWith(options, undefined)

/** The tracker; its watches end (without error) once `closed` completes (the layer's release). */
const makeWith = (options: TrackerOptions, closed: Effect.Effect<void> | undefined): Effect.Effect<TrackerShape, never, JobStore> =>
  Effect.gen(function*() {
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

    /**
     * The job to insert for a validated item, or every issue found. `runNow` is
     * the batch's one Date for jobs without a run time or delay (record times
     * are never mutated, so the jobs of a batch share it).
     */
    const toNewJob = (
      def: JobDefinition.Any,
      validated: PayloadSchema.Validated,
      opts: EnqueueOptions<unknown>,
      runNow: Date,
      prefix: ReadonlyArray<string | number>
    ): NewJob | Array<Issue> => {
      const optionIssues = opts === noOptions ? noIssues : checkOptions(opts)
      // what no store can hold is bad input, refused here for every store
      const payloadIssues = validated._tag === "Invalid"
        ? validated.issues
        : Storable.jsonIssues(validated.stored, prefix.length === 0 ? payloadPath : [...prefix, "payload"])
      if (validated._tag === "Invalid" || payloadIssues.length > 0 || optionIssues.length > 0) {
        return [...payloadIssues, ...optionIssues.map((i) => ({ ...i, path: [...prefix, ...i.path] }))]
      }
      const owner = opts.owner ?? null
      const key = opts.key ?? null
      const runAt = opts.runAt ??
        (opts.delay === undefined ? runNow : new Date(runNow.getTime() + Duration.toMillis(opts.delay)))
      return {
        id: JobId.make(),
        type: def.type,
        queue: def.queue,
        payload: validated.stored as NewJob["payload"],
        maxAttempts: def.retry.maxRetries + 1,
        priority: opts.priority ?? def.priority,
        runAt,
        owner,
        key,
        groupKey: def.group ? def.group.key(validated.value, { owner, key }) : null,
        groupLimit: def.group ? def.group.limit : null
      }
    }

    const enqueueMany = (
      def: JobDefinition.Any,
      items: ReadonlyArray<{ readonly payload: unknown; readonly options?: EnqueueOptions<unknown> | undefined }>
    ) =>
      Effect.gen(function*() {
        const runNow = new Date(yield* Clock.currentTimeMillis)
        const single = items.length === 1
        const prefix = (i: number) => (single ? noPrefix : [i])
        // validated in a plain loop when the schema is synchronous (no Effect per item), else
        // every item as an Effect (ids stay in item order either way)
        let prepared: Array<NewJob | Array<Issue>> = []
        for (let i = 0; i < items.length; i++) {
          const item = items[i]!
          const validated = PayloadSchema.validateSync(def.payload, item.payload, single ? payloadPath : [i, "payload"])
          if (validated === undefined) break
          prepared.push(toNewJob(def, validated, item.options ?? noOptions, runNow, prefix(i)))
        }
        if (prepared.length < items.length) {
          prepared = yield* Effect.forEach(items, (item, i) =>
            Effect.map(
              PayloadSchema.validate(def.payload, item.payload, [...prefix(i), "payload"]),
              (validated) => toNewJob(def, validated, item.options ?? noOptions, runNow, prefix(i))
            ))
        }
        const issues = prepared.flatMap((p) => (Array.isArray(p) ? p : []))
        if (issues.length > 0) return yield* new InvalidInput({ type: def.type, issues })
        const transaction = items[0]?.options?.transaction
        // in a `jobtrack.enqueue` span when traced: the jobs keep its trace context
        return yield* Telemetry.enqueue(settings, def, items.length, (traceparent) => {
          const jobs = prepared as Array<NewJob>
          const insert = store.enqueueMany(traceparent === null ? jobs : jobs.map((j) => ({ ...j, traceparent })))
          return transaction === undefined ? insert : Effect.provideService(insert, Transaction, transaction)
        })
      })

    const enqueueOne = (def: JobDefinition.Any, payload: unknown, opts?: EnqueueOptions<unknown>) =>
      Effect.map(enqueueMany(def, [{ payload, options: opts }]), (all) => all[0]!)

    const hub = ChangeHub.of(raw, store, pollInterval)
    const watch = (id: string): Stream.Stream<JobView, JobNotFound | StoreError> =>
      Streams.unwrap(Effect.gen(function*() {
        const wake = yield* Queue.sliding<void>(1)
        // woken by the process's change hub: by a change of this job, of its queue while it is
        // pending, a resync, or the hub's shared fallback poll (see internal/changeHub.ts)
        const subscriber: ChangeHub.Subscriber = {
          id,
          queue: null,
          pending: true,
          wake: () => Queue.offerUnsafe(wake, undefined)
        }
        yield* hub.subscribe(subscriber)
        let last = ""
        // The next view that differs from the last one emitted.
        const next = Effect.gen(function*() {
          while (true) {
            const v = yield* hub.read(id)
            subscriber.queue = v.queue
            subscriber.pending = v.status === "pending"
            const fingerprint = fingerprintOf(v)
            if (fingerprint !== last) {
              last = fingerprint
              return v
            }
            yield* Queue.take(wake)
          }
        })
        const views = Streams.fromEffectRepeat(next).pipe(Streams.takeUntil((v) => isTerminal(v.status)))
        // the tracker's layer was released (`jobs.close()`): its watches end, an SSE stream with them
        return closed === undefined ? views : views.pipe(Streams.interruptWhen(closed))
      }))

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
            Effect.forEach(page.items, (job) =>
              view(job).pipe(Effect.catchTag("JobNotFound", () => Effect.succeed({ ...job, ...QueuePosition.fields(null) })))),
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
