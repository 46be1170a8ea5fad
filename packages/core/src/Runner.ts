/**
 * The runner claims jobs from the store and runs their handlers as fibers:
 * up to a concurrency limit, woken by store notifications with polling as the
 * fallback. It heartbeats leases, coalesces progress, applies retry policies,
 * enforces timeouts, turns cancel requests into interruption, recovers
 * expired leases, prunes old jobs, and shuts down gracefully.
 *
 * @since 0.1.0
 */
import { hostname } from "node:os"
import { Cause, Clock, Deferred, Duration, Effect, Exit, Fiber, Layer, Option, Queue, Schedule, Scope, Stream } from "effect"
import * as HookDelivery from "./HookDelivery.js"
import type * as Hooks from "./Hooks.js"
import type { JobRecord, Json, Lease } from "./Job.js"
import type { JobContext } from "./JobContext.js"
import type * as JobDefinition from "./JobDefinition.js"
import { LeaseLost } from "./JobError.js"
import type { StoreError } from "./JobError.js"
import { JobStore } from "./JobStore.js"
import * as RetryPolicy from "./RetryPolicy.js"
import * as Storable from "./Storable.js"
import * as Attempt from "./internal/attempt.js"
import { registry } from "./internal/registry.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface RunnerOptions<Defs extends ReadonlyArray<JobDefinition.Any> = ReadonlyArray<JobDefinition.Any>> {
  /** The job types this runner runs; it claims no other. */
  readonly definitions: Defs
  /** Handlers running at once (default 10). */
  readonly concurrency?: number
  /** How long a claim holds without a heartbeat (default 30 s). */
  readonly lease?: Duration.Input
  /** Heartbeat period (default lease / 3). */
  readonly heartbeat?: Duration.Input
  /** Claim attempt period when no notification arrives (default 1 s). */
  readonly pollInterval?: Duration.Input
  /** At most one progress write per job per this period (default 250 ms). */
  readonly progressInterval?: Duration.Input
  /** How long running jobs may finish on shutdown before they are interrupted (default 10 s). */
  readonly shutdownGrace?: Duration.Input
  /** Delete terminal jobs older than `after` every `every` (default 7 days / 1 hour); false: never. */
  readonly prune?: { readonly after: Duration.Input; readonly every: Duration.Input } | false
  /** Names this runner in leases (default host:pid:random). */
  readonly workerId?: string
  /**
   * Lifecycle hooks, delivered at least once by a {@link HookDelivery} this
   * runner starts, for the job types it has definitions for.
   */
  readonly hooks?: Hooks.Hooks
  /** Settings of that delivery (lease, retry policy…). */
  readonly hookDelivery?: Omit<HookDelivery.HookDeliveryOptions, "hooks" | "types" | "workerId">
}

/**
 * A running runner.
 *
 * @since 0.1.0
 * @category models
 */
export interface Runner {
  readonly workerId: string
  /** Ids of the jobs running in this runner now. */
  readonly running: () => ReadonlyArray<string>
  /** Stop claiming, let running jobs finish within the grace period, then interrupt and hand them back. */
  readonly shutdown: Effect.Effect<void>
}

type StopReason = "cancel" | "shutdown" | "leaseLost"

interface Running {
  readonly job: JobRecord
  /** Interrupt the handler for this reason (the first reason wins). */
  readonly stop: (reason: StopReason) => Effect.Effect<void>
  /** Heartbeat now rather than at the next period: learns of a cancel request that was not announced. */
  readonly beatNow: () => void
  done?: Fiber.Fiber<void>
  /** The handler has ended; only the store write is left. The slot is free for the next job. */
  settling?: boolean
}

const ms = (d: Duration.Input) => Duration.toMillis(d)

const storeBackoff = RetryPolicy.exponential({ initial: "100 millis", factor: 2, cap: "5 seconds", maxRetries: 0 })

/**
 * Retry a settling write while the store says the failure is retryable
 * (connection lost…), for about `maxMs`: past that the lease has expired and
 * another runner owns the job, so the write would be refused anyway.
 */
const persist = <A>(
  write: Effect.Effect<A, LeaseLost | StoreError>,
  maxMs: number
): Effect.Effect<A, LeaseLost | StoreError> =>
  write.pipe(
    Effect.retry({
      while: (e: LeaseLost | StoreError) => e._tag === "StoreError" && e.retryable,
      schedule: storeBackoff.schedule.pipe(Schedule.upTo({ duration: Math.max(maxMs, 1) }))
    })
  )

/**
 * Start a runner in the current scope; closing the scope shuts it down
 * gracefully.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <const Defs extends ReadonlyArray<JobDefinition.Any>>(
  options: RunnerOptions<Defs>
): Effect.Effect<Runner, never, JobStore | Scope.Scope | JobDefinition.Services<Defs[number]>> =>
  Effect.gen(function*() {
    const store = yield* JobStore
    const services = yield* Effect.context<JobDefinition.Services<Defs[number]>>()
    const definitions = registry(options.definitions)
    const types = [...definitions.keys()]
    const queues = [...new Set([...definitions.values()].map((d) => d.queue))]
    const concurrency = options.concurrency ?? 10
    const leaseMs = ms(options.lease ?? "30 seconds")
    const heartbeatMs = options.heartbeat === undefined ? Math.max(10, Math.floor(leaseMs / 3)) : ms(options.heartbeat)
    const pollMs = ms(options.pollInterval ?? "1 second")
    const progressMs = ms(options.progressInterval ?? "250 millis")
    const graceMs = ms(options.shutdownGrace ?? "10 seconds")
    const workerId = options.workerId ?? `${hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 8)}`
    const running = new Map<string, Running>()
    const wake = yield* Queue.sliding<void>(1)
    const poke = Effect.sync(() => Queue.offerUnsafe(wake, undefined))
    let stopping = false

    const log = (message: string, job: JobRecord, extra: Record<string, unknown> = {}) =>
      Effect.logDebug(message).pipe(
        Effect.annotateLogs({ jobId: job.id, type: job.type, attempt: job.attempts, workerId, ...extra })
      )

    // -- completions, batched -----------------------------------------------
    // Completions that finish while a completion write is in flight go into the next
    // write together: no added latency when idle, one commit for many when busy.

    interface Completion {
      readonly lease: Lease
      readonly result: Json
      readonly done: Deferred.Deferred<JobRecord, LeaseLost | StoreError>
    }
    const completions = yield* Queue.unbounded<Completion>()
    const completer = yield* Effect.gen(function*() {
      while (true) {
        const batch = yield* Queue.takeBetween(completions, 1, 200)
        const outcome = yield* Effect.result(persist(store.completeMany(batch), leaseMs))
        if (outcome._tag === "Failure") {
          for (const c of batch) Deferred.doneUnsafe(c.done, Effect.fail(outcome.failure))
          continue
        }
        const byId = new Map(outcome.success.completed.map((job) => [job.id, job]))
        for (const c of batch) {
          const job = byId.get(c.lease.id)
          Deferred.doneUnsafe(c.done, job ? Effect.succeed(job) : Effect.fail(new LeaseLost(c.lease)))
        }
      }
    }).pipe(Effect.forkDetach)
    const complete = (lease: Lease, result: Json) =>
      Effect.flatMap(Deferred.make<JobRecord, LeaseLost | StoreError>(), (done) =>
        Queue.offer(completions, { lease, result, done }).pipe(Effect.andThen(Deferred.await(done))))

    // -- one job -----------------------------------------------------------

    const runJob = (job: JobRecord) =>
      Effect.gen(function*() {
        const def = definitions.get(job.type)!
        const lease: Lease = { id: job.id, token: job.token }
        const abort = new AbortController()
        let reason: StopReason | null = null
        let handler: Fiber.Fiber<Json, unknown> | undefined
        const stop = (why: StopReason) =>
          Effect.suspend(() => {
            if (reason !== null) return Effect.void
            reason = why
            return handler ? Fiber.interrupt(handler).pipe(Effect.forkDetach, Effect.asVoid) : Effect.void
          })
        const beatNow = yield* Queue.sliding<void>(1)
        const entry: Running = { job, stop, beatNow: () => Queue.offerUnsafe(beatNow, undefined) }
        running.set(job.id, entry)

        // progress, coalesced: the writer takes the latest value at most once per period
        type Reported = { readonly progress: number; readonly message: string | null }
        let latest: Reported | null = null
        let written: Reported | null = null
        const dirty = yield* Queue.sliding<void>(1)
        const writeLatest = Effect.suspend(() => {
          const value = latest
          if (value === null || value === written || reason === "leaseLost") return Effect.void
          written = value
          return store.progress(lease, value.progress, value.message).pipe(
            Effect.catchTag("LeaseLost", () => stop("leaseLost")),
            Effect.catchTag("StoreError", (e) => Effect.logWarning(`jobtrack: progress write failed: ${e.reason}`))
          )
        })
        const writer = yield* Queue.take(dirty).pipe(
          Effect.andThen(writeLatest),
          Effect.andThen(Effect.sleep(progressMs)),
          Effect.forever,
          Effect.forkChild
        )

        const context: JobContext = {
          id: job.id,
          type: job.type,
          attempt: job.attempts,
          maxAttempts: job.maxAttempts,
          owner: job.owner,
          key: job.key,
          signal: abort.signal,
          log: (message, fields = {}) =>
            Effect.log(message).pipe(
              Effect.annotateLogs({ ...fields, jobId: job.id, type: job.type, attempt: job.attempts })
            ),
          progress: (percent, message) =>
            Effect.sync(() => {
              const p = Number.isFinite(percent) ? Math.min(100, Math.max(0, Math.round(percent * 100) / 100)) : 0
              latest = { progress: p, message: message === undefined ? latest?.message ?? null : Storable.storableText(message) }
              Queue.offerUnsafe(dirty, undefined)
            })
        }

        const timed = Attempt.make(def, job.payload, context, abort, () => reason !== null)
        handler = yield* (timed.pipe(
          Effect.annotateLogs({ jobId: job.id, type: job.type, attempt: job.attempts }),
          Effect.provideContext(services as never),
          Effect.forkChild
        ) as Effect.Effect<Fiber.Fiber<Json, unknown>>)
        if (reason !== null) yield* Fiber.interrupt(handler).pipe(Effect.forkDetach)

        const beat = yield* Queue.take(beatNow).pipe(
          Effect.timeoutOption(heartbeatMs),
          Effect.andThen(store.heartbeat(lease, leaseMs)),
          Effect.flatMap(({ cancelRequested }) => (cancelRequested ? stop("cancel") : Effect.void)),
          Effect.catchTag("LeaseLost", () => stop("leaseLost")),
          Effect.catchTag("StoreError", (e) => Effect.logWarning(`jobtrack: heartbeat failed: ${e.reason}`)),
          Effect.forever,
          Effect.forkChild
        )

        const exit: Exit.Exit<Json, unknown> = yield* Fiber.await(handler)
        // the next job may start while this one's result is written
        entry.settling = true
        Queue.offerUnsafe(wake, undefined)
        yield* Fiber.interrupt(beat)
        yield* Fiber.interrupt(writer)
        yield* writeLatest
        yield* settle(job, lease, exit, reason, def)
      }).pipe(
        Effect.catchCause((cause) =>
          Cause.hasInterruptsOnly(cause)
            ? Effect.void
            : Effect.logError(`jobtrack: runner failed to settle job ${job.id}`, Cause.pretty(cause))
        ),
        Effect.ensuring(Effect.sync(() => {
          running.delete(job.id)
          Queue.offerUnsafe(wake, undefined)
        }))
      )

    const settle = (
      job: JobRecord,
      lease: Lease,
      exit: Exit.Exit<Json, unknown>,
      reason: StopReason | null,
      def: JobDefinition.Any
    ): Effect.Effect<void, LeaseLost | StoreError> =>
      Effect.gen(function*() {
        if (reason === "leaseLost") return yield* log("lease lost; result dropped", job)
        const write = (e: Effect.Effect<JobRecord, LeaseLost | StoreError>) => persist(e, leaseMs)
        let settled: JobRecord
        if (Exit.isSuccess(exit)) {
          settled = yield* complete(lease, exit.value)
        } else if (reason === "cancel") {
          settled = yield* write(store.cancelled(lease))
        } else if (reason === "shutdown") {
          settled = yield* write(store.release(lease))
        } else {
          const message = Cause.hasInterruptsOnly(exit.cause) ? "interrupted" : Attempt.errorText(exit.cause)
          const delay = Attempt.isFatalCause(exit.cause) || job.attempts >= job.maxAttempts
            ? Option.none<Duration.Duration>()
            : yield* RetryPolicy.delayBefore(def.retry, job.attempts, `${job.id}:${job.attempts}`)
          const now = yield* Clock.currentTimeMillis
          const retryAt = Option.match(delay, { onNone: () => null, onSome: (d) => new Date(now + Duration.toMillis(d)) })
          settled = yield* write(store.fail({ ...lease, message, retryAt }))
        }
        yield* log(`job ${settled.status}`, settled)
      }).pipe(Effect.catchTag("LeaseLost", () => log("lease lost before settling; write refused", job)))

    // -- the claim loop ----------------------------------------------------

    const start = (job: JobRecord) =>
      Effect.gen(function*() {
        // registers itself in `running` synchronously, before any other fiber runs
        const done = yield* Effect.forkDetach(runJob(job), { startImmediately: true })
        const entry = running.get(job.id)
        if (entry) entry.done = done
      })

    const cycle = Effect.gen(function*() {
      let busy = 0
      for (const r of running.values()) if (!r.settling) busy++
      const free = concurrency - busy
      if (free <= 0 || stopping) return false
      const jobs = yield* store.claim({ queues, types, workerId, limit: free, leaseMs })
      for (const job of jobs) yield* start(job)
      return jobs.length === free
    })

    const loop = Effect.gen(function*() {
      let failures = 0
      while (!stopping) {
        const result = yield* Effect.result(cycle)
        if (result._tag === "Failure") {
          failures++
          yield* Effect.logWarning(`jobtrack: claim failed (${failures}): ${result.failure.reason}`)
          yield* Effect.sleep(Math.min(pollMs * failures, 30_000))
          continue
        }
        failures = 0
        if (result.success) continue // full batch: there may be more
        yield* Queue.take(wake).pipe(Effect.timeoutOption(pollMs))
      }
    })

    const listener = yield* store.changes.pipe(
      Stream.runForEach((change) => {
        if (change.kind === "resync") {
          // announcements may have been lost: re-check every held job's cancel request, look for jobs
          for (const r of running.values()) r.beatNow()
          return poke
        }
        if (change.kind === "cancelRequested") {
          const r = running.get(change.id)
          return r ? r.stop("cancel") : Effect.void
        }
        if (change.kind === "enqueued" && queues.includes(change.queue) && types.includes(change.type)) return poke
        return Effect.void
      }),
      Effect.forkDetach({ startImmediately: true })
    )
    const loopFiber = yield* Effect.forkDetach(loop)

    // -- lease recovery ------------------------------------------------------
    // On its own period rather than in the claim loop (whose wakes and back-offs would
    // stretch the gap between checks): a job whose holder died is recovered at most one
    // period after its lease expires.
    const recovery = Effect.gen(function*() {
      const recovered = yield* store.recoverExpired()
      // the store recorded the hook deliveries of the jobs it failed or cancelled
      for (const job of recovered) yield* log("lease expired; recovered", job)
      if (recovered.length > 0) yield* poke
    }).pipe(
      Effect.catchTag("StoreError", (e) => Effect.logWarning(`jobtrack: lease recovery failed: ${e.reason}`)),
      Effect.andThen(Effect.sleep(Math.min(pollMs, leaseMs / 2))),
      Effect.forever,
      Effect.forkDetach
    )
    const recoveryFiber = yield* recovery

    const pruneFiber = options.prune === false ? undefined : yield* Effect.gen(function*() {
      const prune = options.prune || { after: "7 days", every: "1 hour" }
      while (true) {
        yield* Effect.sleep(prune.every)
        const now = yield* Clock.currentTimeMillis
        const n = yield* store.prune(new Date(now - ms(prune.after))).pipe(
          Effect.catchTag("StoreError", (e) => Effect.logWarning(`jobtrack: prune failed: ${e.reason}`).pipe(Effect.as(0)))
        )
        if (n > 0) yield* Effect.logDebug(`jobtrack: pruned ${n} jobs`)
      }
    }).pipe(Effect.forkDetach)

    let shutdownDone: Effect.Effect<void> | undefined
    const shutdown: Effect.Effect<void> = Effect.suspend(() => {
      if (shutdownDone) return shutdownDone
      shutdownDone = Effect.gen(function*() {
        stopping = true
        yield* Fiber.interrupt(loopFiber)
        yield* Fiber.interrupt(recoveryFiber)
        if (pruneFiber) yield* Fiber.interrupt(pruneFiber)
        const all = () => Fiber.awaitAll([...running.values()].flatMap((r) => (r.done ? [r.done] : [])))
        const finished = yield* all().pipe(Effect.timeoutOption(graceMs))
        if (Option.isNone(finished)) {
          yield* Effect.forEach([...running.values()], (r) => r.stop("shutdown"), { discard: true })
          yield* all()
        }
        yield* Fiber.interrupt(listener)
        yield* Fiber.interrupt(completer)
      }).pipe(Effect.cached, Effect.runSync)
      return shutdownDone
    })
    // the store records hook deliveries with each transition; delivered after this runner's shutdown
    if (options.hooks) yield* HookDelivery.make({ ...options.hookDelivery, hooks: options.hooks, types, workerId })
    yield* Effect.addFinalizer(() => shutdown)

    return {
      workerId,
      running: () => [...running.keys()],
      shutdown
    }
  })

/**
 * A runner as a layer: started when the layer is built, shut down gracefully
 * when its scope closes.
 *
 * @example
 * ```ts
 * const Live = Runner.layer({ definitions: [extractText], concurrency: 4 }).pipe(
 *   Layer.provideMerge(MemoryStore.layer)
 * )
 * ```
 * @since 0.1.0
 * @category layers
 */
export const layer = <const Defs extends ReadonlyArray<JobDefinition.Any>>(
  options: RunnerOptions<Defs>
): Layer.Layer<never, never, JobStore | JobDefinition.Services<Defs[number]>> =>
  Layer.effectDiscard(make(options))
