/**
 * Test helpers for host applications: test your own code that enqueues jobs
 * without waiting out retries in real time (in the spirit of Oban.Testing's
 * manual/inline modes, River's rivertest and pg-boss/graphile-worker test
 * setups).
 *
 * - the kit's `store` is a real store (memory by default, or yours, e.g.
 *   PGlite) whose clock the test controls: it starts at real time and jumps
 *   forward when {@link TestJobsShape.drain} meets a job due later;
 * - `assertEnqueued` checks that a job of a type was enqueued with a payload
 *   matching a partial one;
 * - `drain` runs every due job to a terminal status in-process through the
 *   real runner, retries included: a 30 s / 2 min / 8 min backoff takes
 *   no real time;
 * - `mode: "inline"` runs jobs at enqueue (except an enqueue inside the
 *   host's transaction, which has not committed yet: the next drain runs it).
 *
 * Handlers run in real time (their sleeps and timeouts are real); only the
 * store's and the runner's notion of "now" jumps.
 *
 * Promise form: {@link start}; Effect form: {@link make} / {@link layer}.
 * Needs no test framework: failures are thrown/failed errors whose message
 * says what was enqueued.
 *
 * @since 0.2.0
 */
import { Clock, Context, Data, Duration, Effect, Exit, Layer, Scope } from "effect"
import * as Hooks from "../Hooks.js"
import type { JobRecord, JobStatus, JobSummary } from "../Job.js"
import type * as JobDefinition from "../JobDefinition.js"
import type { StoreError } from "../JobError.js"
import { JobStore, Transaction } from "../JobStore.js"
import type { JobStoreShape } from "../JobStore.js"
import * as Jobtrack from "../Jobtrack.js"
import * as MemoryStore from "../MemoryStore.js"
import * as Runner from "../Runner.js"
import * as Tracker from "../Tracker.js"
import { matches } from "./match.js"
import type { PayloadMatch } from "./match.js"

export type { PayloadMatch } from "./match.js"

/**
 * @since 0.2.0
 * @category models
 */
export interface TestJobsOptions<Defs extends ReadonlyArray<JobDefinition.Any> = ReadonlyArray<JobDefinition.Any>> {
  /** The definitions `drain` runs (jobs of other types are left alone). */
  readonly definitions: Defs
  /** The store to test over (default: a memory store). Its clock becomes the kit's. */
  readonly store?: Layer.Layer<JobStore, StoreError>
  /** `"manual"` (default): jobs run when you `drain`. `"inline"`: at enqueue. */
  readonly mode?: "manual" | "inline"
  readonly hooks?: Hooks.Hooks
  /** Handlers running at once while draining (default 10). */
  readonly concurrency?: number
}

/**
 * The jobs a drain brought to a terminal status, by status.
 *
 * @since 0.2.0
 * @category models
 */
export interface Drained {
  readonly completed: ReadonlyArray<JobRecord>
  readonly failed: ReadonlyArray<JobRecord>
  readonly cancelled: ReadonlyArray<JobRecord>
}

/**
 * @since 0.2.0
 * @category models
 */
export interface DrainOptions {
  /** Give up after this much real time (default 30 s): a handler that never ends. */
  readonly timeout?: Duration.Input
}

/**
 * @since 0.2.0
 * @category models
 */
export interface AssertEnqueuedOptions {
  readonly owner?: string | null
  readonly key?: string | null
  /** Exactly this many matching jobs (default: at least one). */
  readonly count?: number
}

/**
 * No enqueued job matched. The message lists the jobs of that type that were.
 *
 * @since 0.2.0
 * @category errors
 */
export class NotEnqueued extends Data.TaggedError("NotEnqueued")<{
  readonly type: string
  readonly expected: string
  readonly found: ReadonlyArray<JobRecord>
}> {
  override get message() {
    const seen = this.found.map((j) => `  ${j.id} ${j.status} ${JSON.stringify(j.payload)}${j.owner ? ` owner=${j.owner}` : ""}`)
    return `expected ${this.expected} "${this.type}" job(s) matching; ${this.found.length} of that type enqueued` +
      (seen.length ? `:\n${seen.join("\n")}` : "")
  }
}

/**
 * `drain` ran out of (real) time with jobs still running or due.
 *
 * @since 0.2.0
 * @category errors
 */
export class DrainStuck extends Data.TaggedError("DrainStuck")<{ readonly waiting: ReadonlyArray<JobRecord> }> {
  override get message() {
    return `drain did not finish: ${this.waiting.map((j) => `${j.id} (${j.type}, ${j.status})`).join(", ")}`
  }
}

/**
 * The kit, Effect form.
 *
 * @since 0.2.0
 * @category models
 */
export interface TestJobsShape {
  /** The store on the kit's clock. */
  readonly store: JobStoreShape
  /** The same store as a layer, for the host's `Jobtrack.make({ store })` or its own layers. */
  readonly layer: Layer.Layer<JobStore>
  /** A tracker over the store (for `get`, `watch`…). */
  readonly tracker: Tracker.TrackerShape
  /** The kit's current time. */
  readonly now: Effect.Effect<Date>
  /** Move the kit's clock forward. */
  readonly advance: (duration: Duration.Input) => Effect.Effect<void>
  /** Every job of a type, oldest first. */
  readonly enqueued: (definition: JobDefinition.Any | string) => Effect.Effect<ReadonlyArray<JobRecord>, StoreError>
  /** The (first) job of that type whose stored payload matches `payload`, or a {@link NotEnqueued} failure. */
  readonly assertEnqueued: (
    definition: JobDefinition.Any | string,
    payload?: PayloadMatch,
    options?: AssertEnqueuedOptions
  ) => Effect.Effect<JobRecord, NotEnqueued | StoreError>
  /** Run due jobs, and jobs falling due as the clock jumps, until none is left. */
  readonly drain: (options?: DrainOptions) => Effect.Effect<Drained, DrainStuck | StoreError>
}

/**
 * The kit as a service (see {@link layer}).
 *
 * @since 0.2.0
 * @category services
 */
export class TestJobs extends Context.Service<TestJobs, TestJobsShape>()("@jobtrack/core/testing/TestJobs") {}

/** Real time plus an offset the kit moves forward. Sleeps are real. */
const offsetClock = () => {
  let offset = 0
  const now = () => Date.now() + offset
  const nanos = () => BigInt(now()) * 1_000_000n
  const clock: Clock.Clock = {
    currentTimeMillisUnsafe: now,
    currentTimeMillis: Effect.sync(now),
    currentTimeNanosUnsafe: nanos,
    currentTimeNanos: Effect.sync(nanos),
    monotonicTimeNanosUnsafe: () => process.hrtime.bigint(),
    monotonicTimeNanos: Effect.sync(() => process.hrtime.bigint()),
    sleep: (duration) => {
      const ms = Duration.toMillis(duration)
      if (!Number.isFinite(ms)) return Effect.never
      return Effect.callback<void>((resume) => {
        const timer = setTimeout(() => resume(Effect.void), Math.min(Math.max(0, ms), 2 ** 31 - 1))
        return Effect.sync(() => clearTimeout(timer))
      })
    }
  }
  return { clock, now, advance: (ms: number) => void (offset += Math.max(0, ms)) }
}

const realSleep = (ms: number) => Effect.promise(() => new Promise<void>((r) => setTimeout(r, ms)))

/** Every job of some types in some statuses (all pages). */
const listAll = (store: JobStoreShape, types: ReadonlyArray<string>, status?: ReadonlyArray<JobStatus>) =>
  Effect.gen(function*() {
    const all: Array<JobSummary> = []
    for (const type of types) {
      let cursor: string | undefined
      do {
        const page = yield* store.list({ type, limit: 500, ...(status ? { status } : {}), ...(cursor ? { cursor } : {}) })
        all.push(...page.items)
        cursor = page.nextCursor ?? undefined
      } while (cursor)
    }
    return all
  })

/** The jobs whole (list pages are summaries): payloads, results and errors, for assertions. */
const whole = (store: JobStoreShape, jobs: ReadonlyArray<JobSummary>) =>
  Effect.map(
    Effect.forEach(jobs, (j) => store.get(j.id).pipe(Effect.catchTag("JobNotFound", () => Effect.succeed(null)))),
    (all) => all.filter((j): j is JobRecord => j !== null)
  )

const dueAt = (job: JobSummary): number => (job.status === "retrying" && job.nextRetryAt ? job.nextRetryAt : job.runAt).getTime()

/**
 * Build the kit in the current scope (Effect form).
 *
 * @example
 * ```ts
 * import { it } from "@effect/vitest"
 * import { Effect } from "effect"
 * import { TestJobs } from "@jobtrack/core/testing"
 *
 * it.effect("signing up sends the welcome mail", () =>
 *   Effect.gen(function*() {
 *     const jobs = yield* TestJobs.make({ definitions: [sendWelcome] })
 *     yield* signUp("ann@example.com").pipe(Effect.provide(jobs.layer))
 *     yield* jobs.assertEnqueued(sendWelcome, { to: "ann@example.com" })
 *     const { completed } = yield* jobs.drain()
 *   }).pipe(Effect.scoped))
 * ```
 * @since 0.2.0
 * @category constructors
 */
export const make = <const Defs extends ReadonlyArray<JobDefinition.Any>>(
  options: TestJobsOptions<Defs>
): Effect.Effect<TestJobsShape, StoreError, Scope.Scope | JobDefinition.Services<Defs[number]>> =>
  Effect.gen(function*() {
    const services = yield* Effect.context<JobDefinition.Services<Defs[number]>>()
    const scope = yield* Effect.scope
    const built = yield* Layer.buildWithScope(options.store ?? MemoryStore.layer, scope)
    const base = Context.get(built, JobStore)
    const time = offsetClock()
    const onClock = <A, E, R>(e: Effect.Effect<A, E, R>) => Effect.provideService(e, Clock.Clock, time.clock)
    const types = options.definitions.map((d) => d.type)
    let draining = false

    const bound = Object.fromEntries(
      Object.entries(base).map(([name, value]) => [
        name,
        typeof value === "function"
          ? (...args: Array<unknown>) => {
            const out = (value as (...a: Array<unknown>) => unknown).apply(base, args)
            return Effect.isEffect(out) ? onClock(out) : out
          }
          : value
      ])
    ) as unknown as JobStoreShape

    const drain = (drainOptions: DrainOptions = {}): Effect.Effect<Drained, DrainStuck | StoreError> =>
      Effect.gen(function*() {
        const wasDraining = draining
        draining = true
        const runnerScope = yield* Scope.make()
        const runner = yield* (Runner.make({
          definitions: options.definitions,
          concurrency: options.concurrency ?? 10,
          pollInterval: "5 millis",
          progressInterval: "1 millis",
          prune: false,
          workerId: "jobtrack-test-drain",
          ...(options.hooks ? { hooks: options.hooks } : {})
        }).pipe(
          Effect.provideService(JobStore, store),
          Effect.provideContext(services as Context.Context<never>),
          Scope.provide(runnerScope),
          onClock
        ) as Effect.Effect<Runner.Runner>)
        const seen = new Set<string>()
        const deadline = Date.now() + Duration.toMillis(drainOptions.timeout ?? "30 seconds")
        const loop = Effect.gen(function*() {
          while (true) {
            const open = yield* listAll(store, types, ["pending", "retrying", "processing"])
            for (const job of open) seen.add(job.id)
            const now = time.now()
            const busy = runner.running().length > 0 || open.some((j) => j.status === "processing" || dueAt(j) <= now)
            if (busy) {
              if (Date.now() > deadline) return yield* new DrainStuck({ waiting: yield* whole(store, open) })
              yield* realSleep(2)
              continue
            }
            if (open.length === 0) return
            time.advance(Math.min(...open.map(dueAt)) - now)
          }
        })
        const exit = yield* Effect.exit(loop)
        yield* Scope.close(runnerScope, Exit.void)
        draining = wasDraining
        if (Exit.isFailure(exit)) return yield* Effect.failCause(exit.cause)
        const settled = yield* Effect.forEach([...seen], (id) =>
          store.get(id).pipe(Effect.catchTag("JobNotFound", () => Effect.succeed(null))))
        const by = (s: JobStatus) => settled.filter((j): j is JobRecord => j !== null && j.status === s)
        return { completed: by("completed"), failed: by("failed"), cancelled: by("cancelled") }
      })

    /** Inline mode: run what was just enqueued, unless inside a drain or the host's uncommitted transaction. */
    const inline = <A extends { readonly job: JobRecord }>(enqueued: ReadonlyArray<A>) =>
      Effect.gen(function*() {
        const trx = yield* Effect.service(Transaction)
        if (options.mode !== "inline" || draining || trx !== undefined) return enqueued
        yield* drain().pipe(Effect.orDie)
        return yield* Effect.forEach(enqueued, (e) =>
          bound.get(e.job.id).pipe(Effect.map((job) => ({ ...e, job })), Effect.catchTag("JobNotFound", () => Effect.succeed(e))))
      })

    const store: JobStoreShape = {
      ...bound,
      enqueue: (job) => bound.enqueue(job).pipe(Effect.flatMap((e) => inline([e])), Effect.map((all) => all[0]!)),
      enqueueMany: (jobs) => bound.enqueueMany(jobs).pipe(Effect.flatMap(inline))
    }
    const layer = Layer.succeed(JobStore, store)
    const tracker = yield* Tracker.make({
      definitions: options.definitions,
      ...(options.hooks ? { hooks: options.hooks } : {})
    }).pipe(Effect.provideService(JobStore, store))

    const enqueued = (definition: JobDefinition.Any | string) =>
      listAll(store, [typeof definition === "string" ? definition : definition.type]).pipe(
        Effect.flatMap((jobs) => whole(store, [...jobs].reverse()))
      )

    const assertEnqueued = (
      definition: JobDefinition.Any | string,
      payload?: PayloadMatch,
      assertOptions: AssertEnqueuedOptions = {}
    ): Effect.Effect<JobRecord, NotEnqueued | StoreError> =>
      Effect.gen(function*() {
        const type = typeof definition === "string" ? definition : definition.type
        const all = yield* enqueued(type)
        const hits = all.filter((j) =>
          (payload === undefined || matches(j.payload, payload)) &&
          (assertOptions.owner === undefined || j.owner === assertOptions.owner) &&
          (assertOptions.key === undefined || j.key === assertOptions.key)
        )
        const ok = assertOptions.count === undefined ? hits.length > 0 : hits.length === assertOptions.count
        if (!ok) {
          const what = [
            assertOptions.count === undefined ? "at least 1" : `exactly ${assertOptions.count} (found ${hits.length})`,
            payload === undefined ? "" : typeof payload === "function" ? " [predicate]" : ` ${JSON.stringify(payload)}`,
            assertOptions.owner !== undefined ? ` owner=${assertOptions.owner}` : "",
            assertOptions.key !== undefined ? ` key=${assertOptions.key}` : ""
          ].join("")
          return yield* new NotEnqueued({ type, expected: what, found: all })
        }
        return hits[0]!
      })

    return {
      store,
      layer,
      tracker,
      now: Effect.sync(() => new Date(time.now())),
      advance: (d) => Effect.sync(() => time.advance(Duration.toMillis(Duration.fromInputUnsafe(d)))),
      enqueued,
      assertEnqueued,
      drain
    } satisfies TestJobsShape
  })

/**
 * The kit as a layer: {@link TestJobs} and the store (`JobStore`) on its clock.
 *
 * @since 0.2.0
 * @category layers
 */
export const layer = <const Defs extends ReadonlyArray<JobDefinition.Any>>(
  options: TestJobsOptions<Defs>
): Layer.Layer<TestJobs | JobStore, StoreError, JobDefinition.Services<Defs[number]>> =>
  Layer.effectContext(Effect.map(make(options), (kit) => Context.make(TestJobs, kit).pipe(Context.add(JobStore, kit.store))))

/**
 * The kit, Promise form.
 *
 * @since 0.2.0
 * @category models
 */
export interface TestJobsClient extends AsyncDisposable {
  /** The store on the kit's clock, for the host's `Jobtrack.make({ store })`. */
  readonly store: Layer.Layer<JobStore>
  /** A facade over the store (no runner: jobs run when drained, or inline). */
  readonly jobtrack: Jobtrack.Jobtrack
  readonly now: () => Date
  readonly advance: (duration: Duration.Input) => void
  readonly enqueued: (definition: JobDefinition.Any | string) => Promise<ReadonlyArray<JobRecord>>
  readonly assertEnqueued: (
    definition: JobDefinition.Any | string,
    payload?: PayloadMatch,
    options?: AssertEnqueuedOptions
  ) => Promise<JobRecord>
  readonly drain: (options?: DrainOptions) => Promise<Drained>
  readonly close: () => Promise<void>
}

/**
 * Start the kit (Promise form). Close it at the end of the test.
 *
 * @example
 * ```ts
 * import { afterEach, expect, it } from "vitest"
 * import { TestJobs } from "@jobtrack/core/testing"
 *
 * it("a failing extraction is retried at 30 s, 2 min, 8 min", async () => {
 *   await using jobs = await TestJobs.start({ definitions: [extractText] })
 *   const app = makeApp({ store: jobs.store })
 *   await app.attach("rec-1", { file_url: "s3://bucket/broken.pdf" })
 *   const job = await jobs.assertEnqueued(extractText, { file_url: "s3://bucket/broken.pdf" })
 *   const { failed } = await jobs.drain()
 *   expect(failed.map((j) => j.id)).toEqual([job.id])
 * })
 * ```
 * @since 0.2.0
 * @category constructors
 */
export const start = async (
  options: TestJobsOptions<ReadonlyArray<Jobtrack.PlainDefinition>>
): Promise<TestJobsClient> => {
  const scope = Effect.runSync(Scope.make())
  const exit = await Effect.runPromiseExit(make(options).pipe(Scope.provide(scope)))
  if (Exit.isFailure(exit)) {
    await Effect.runPromise(Scope.close(scope, Exit.void))
    throw new Error(`TestJobs.start failed: ${String(exit.cause)}`)
  }
  const kit = exit.value
  const run = <A, E>(e: Effect.Effect<A, E>) =>
    Effect.runPromiseExit(e).then((x) => {
      if (Exit.isSuccess(x)) return x.value
      const failure = x.cause.reasons.find((r) => r._tag === "Fail")
      throw failure?._tag === "Fail" ? failure.error : new Error(String(x.cause))
    })
  const jobtrack = Jobtrack.make({
    store: kit.layer,
    definitions: options.definitions,
    ...(options.hooks ? { hooks: options.hooks } : {})
  })
  const close = async () => {
    await jobtrack.close()
    await Effect.runPromise(Scope.close(scope, Exit.void))
  }
  return {
    store: kit.layer,
    jobtrack,
    now: () => Effect.runSync(kit.now),
    advance: (d) => Effect.runSync(kit.advance(d)),
    enqueued: (d) => run(kit.enqueued(d)),
    assertEnqueued: (d, p, o) => run(kit.assertEnqueued(d, p, o)),
    drain: (o) => run(kit.drain(o)),
    close,
    [Symbol.asyncDispose]: close
  }
}
