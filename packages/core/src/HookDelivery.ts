/**
 * Delivers the hook calls the store recorded with each terminal transition
 * (store rules 12–15), from whichever process has the hook: claims pending
 * deliveries with a lease (woken by the store's `hook` notifications, polling
 * as the fallback), calls the hook, deletes the delivery when the hook
 * succeeded, and otherwise schedules the next attempt with the retry policy's
 * Schedule until it gives up, leaving the delivery `dead`.
 *
 * At least once: a process that dies during a call (or runs past the lease)
 * leaves the delivery to be claimed again. A delivery whose previous holder
 * vanished more often than the policy allows attempts is made dead without
 * another call, so a hook that crashes its process cannot loop forever.
 *
 * Deliveries are claimed only for the job types and events this process has
 * (see {@link HookDeliveryOptions.types}); one no process can make stays
 * pending, unclaimed (no spinning), until the store's prune removes it.
 *
 * A runner with `hooks` starts one; start one yourself with {@link layer} in a
 * process that runs no jobs.
 *
 * `make` holds the claim loop and the shutdown; one delivery's attempt is
 * `internal/deliveryAttempt.ts`.
 *
 * @since 0.1.0
 */
import { hostname } from "node:os"
import { Duration, Effect, Fiber, Layer, Option, Queue, Schedule } from "effect"
import type { Scope } from "effect"
import * as Hooks from "./Hooks.js"
import * as ChangeSubscription from "./internal/changeSubscription.js"
import * as DeliveryAttempt from "./internal/deliveryAttempt.js"
import * as DeliveryOptions from "./internal/deliveryOptions.js"
import * as Options from "./internal/options.js"
import { InvalidOptions } from "./JobError.js"
import { handBackMs } from "./internal/runner/shutdown.js"
import { JobStore } from "./JobStore.js"
import type { HookDelivery, JobStoreShape } from "./JobStore.js"
import * as RetryPolicy from "./RetryPolicy.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface HookDeliveryOptions {
  readonly hooks: Hooks.Hooks
  /** The job types whose deliveries this process makes (a runner: the types it has definitions for). */
  readonly types: ReadonlyArray<string>
  /** Names this process in delivery leases (default host:pid:random). */
  readonly workerId?: string
  /** Hook calls at once (default 4). */
  readonly concurrency?: number
  /**
   * How long a claimed delivery is held (default 60 s): past it, another process
   * may deliver it again. A hook call running longer than half of it fails the attempt.
   */
  readonly lease?: Duration.Input
  /** Claim attempt period when no notification arrives (default 1 s). */
  readonly pollInterval?: Duration.Input
  /** Retries of a failing hook; see {@link defaultRetry}. */
  readonly retry?: RetryPolicy.RetryPolicy
  /** How long calls in flight may finish on shutdown before they are interrupted (default 10 s). */
  readonly shutdownGrace?: Duration.Input
}

/**
 * The default retries of a failing hook: 12, exponential from 1 s by 2 with
 * jitter, capped at 10 minutes (about 37 minutes in all), then dead.
 *
 * @since 0.1.0
 * @category constructors
 */
export const defaultRetry: RetryPolicy.RetryPolicy = RetryPolicy.exponential({
  initial: "1 second",
  factor: 2,
  cap: "10 minutes",
  maxRetries: 12,
  jitter: true
})

/**
 * A running deliverer.
 *
 * @since 0.1.0
 * @category models
 */
export interface HookDeliverer {
  /** Ids of the deliveries being made now. */
  readonly inFlight: () => ReadonlyArray<string>
  /** Stop claiming; let calls in flight finish within the grace period, then interrupt them. */
  readonly shutdown: Effect.Effect<void>
}

const ms = (d: Duration.Input) => Duration.toMillis(d)

/**
 * Subscribe the store to these hooks' (type, event) pairs, so that from now on
 * their terminal transitions record deliveries (rule 12): before anything of
 * this process can finish a job. A store error is retried (with backoff, up to
 * a minute), then logged.
 *
 * @example
 * ```ts
 * yield* HookDelivery.subscribe(store, { onFailed: alert }, ["send-email"])
 * ```
 * @since 0.2.0
 * @category constructors
 */
export const subscribe = (store: JobStoreShape, hooks: Hooks.Hooks, types: ReadonlyArray<string>): Effect.Effect<void> =>
  store.subscribeHooks({ types, events: Hooks.events(hooks) }).pipe(
    Effect.retry({
      while: (e) => e.retryable,
      schedule: Schedule.exponential("100 millis").pipe(Schedule.upTo({ duration: 60_000 }))
    }),
    Effect.catch((e) => Effect.logError(`jobtrack: hook subscription failed, hooks may miss deliveries: ${e.reason}`))
  )

/**
 * Start delivering in the current scope; closing the scope shuts it down.
 * Invalid options (a `concurrency` of 0, a `lease` of "soon"…) fail with one
 * `InvalidOptions` naming them all.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: HookDeliveryOptions): Effect.Effect<HookDeliverer, InvalidOptions, JobStore | Scope.Scope> =>
  Effect.gen(function*() {
    const c = Options.checker()
    if (!Options.isRecord(options.hooks)) Options.add(c, "hooks", `must be an object of hook functions (got ${Options.show(options.hooks)})`)
    if (!Array.isArray(options.types)) Options.add(c, "types", `must be an array of job types (got ${Options.show(options.types)})`)
    DeliveryOptions.check(c, options as unknown as Record<string, unknown>)
    Options.unknownKeys(c, options as unknown as Record<string, unknown>, DeliveryOptions.names)
    if (c.issues.length > 0) return yield* new InvalidOptions({ of: "HookDelivery options", issues: c.issues })
    const store = yield* JobStore
    const events = Hooks.events(options.hooks)
    const types = [...options.types]
    yield* subscribe(store, options.hooks, types)
    const workerId = options.workerId ?? `${hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 8)}`
    const concurrency = options.concurrency ?? 4
    const leaseMs = ms(options.lease ?? "60 seconds")
    const pollMs = ms(options.pollInterval ?? "1 second")
    const graceMs = ms(options.shutdownGrace ?? "10 seconds")
    const policy = options.retry ?? defaultRetry
    const inFlight = new Map<string, Fiber.Fiber<void>>()
    const wake = yield* Queue.sliding<void>(1)
    let stopping = false

    const attempt = DeliveryAttempt.make({ store, hooks: options.hooks, policy, leaseMs, workerId })
    const deliver = (d: HookDelivery): Effect.Effect<void> =>
      attempt.deliver(d).pipe(Effect.ensuring(Effect.sync(() => {
        inFlight.delete(d.id)
        Queue.offerUnsafe(wake, undefined)
      })))

    // A claim sent to the store commits whether or not its Effect is interrupted, so the claim and
    // the start of its deliveries are one step that shutdown waits for (within the grace): what a
    // claim took once shutdown began is given back, not left leased by a process that is gone.
    const cycle = Effect.uninterruptible(Effect.gen(function*() {
      const free = concurrency - inFlight.size
      if (free <= 0 || stopping) return false
      const claimed = yield* store.claimDeliveries({ types, events, workerId, limit: free, leaseMs })
      for (const d of claimed) {
        if (stopping) {
          yield* attempt.handBack(d, "released at shutdown")
          continue
        }
        const fiber = yield* Effect.forkDetach(deliver(d), { startImmediately: true })
        if (fiber.pollUnsafe() === undefined) inFlight.set(d.id, fiber)
      }
      return claimed.length === free
    }))

    const loop = Effect.gen(function*() {
      let failures = 0
      while (!stopping) {
        const result = yield* Effect.result(cycle)
        if (result._tag === "Failure") {
          failures++
          yield* Effect.logWarning(`jobtrack: hook delivery claim failed (${failures}): ${result.failure.reason}`)
          yield* Effect.sleep(Math.min(pollMs * failures, 30_000))
          continue
        }
        failures = 0
        if (result.success) continue // full batch: there may be more
        yield* Queue.take(wake).pipe(Effect.timeoutOption(pollMs))
      }
    })

    if (events.length === 0 || types.length === 0) {
      return { inFlight: () => [], shutdown: Effect.void }
    }
    const listener = yield* ChangeSubscription.open(store, (change) =>
      change.kind === "hook" && types.includes(change.type) && (events as ReadonlyArray<string>).includes(change.status)
        ? Effect.sync(() => Queue.offerUnsafe(wake, undefined))
        : Effect.void
    )
    const loopFiber = yield* Effect.forkDetach(loop)

    let shutdownDone: Effect.Effect<void> | undefined
    const shutdown: Effect.Effect<void> = Effect.suspend(() => {
      if (shutdownDone) return shutdownDone
      shutdownDone = Effect.gen(function*() {
        stopping = true
        // waits for a claim in flight (and the give-back of what it took), at most the grace
        yield* Fiber.interrupt(loopFiber).pipe(Effect.timeoutOption(graceMs))
        yield* Fiber.interrupt(listener)
        const all = () => Fiber.awaitAll([...inFlight.values()])
        const finished = yield* all().pipe(Effect.timeoutOption(graceMs))
        // interrupted calls fail their attempt: the next claim may come at once from any process;
        // that write is waited for at most the runner's hand-back bound (a store that does not answer
        // leaves the deliveries to lease recovery, as the runner leaves its jobs)
        if (Option.isNone(finished)) {
          const handedBack = yield* Fiber.interruptAll([...inFlight.values()]).pipe(Effect.timeoutOption(handBackMs))
          if (Option.isNone(handedBack)) {
            yield* Effect.logWarning(
              `jobtrack: hook delivery shutdown: ${inFlight.size} delivery(ies) not handed back ${handBackMs} ms ` +
                "after the grace; they are claimable again once their lease expires"
            )
          }
        }
      }).pipe(Effect.cached, Effect.runSync)
      return shutdownDone
    })
    yield* Effect.addFinalizer(() => shutdown)
    return { inFlight: () => [...inFlight.keys()], shutdown }
  })

/**
 * Deliver hooks in a process that runs no jobs (a runner with `hooks` already does).
 *
 * @example
 * ```ts
 * const Hooked = HookDelivery.layer({
 *   types: ["extract-text"],
 *   hooks: { onFailed: (job, delivery) => Effect.promise(() => alert(job, delivery.id)) }
 * }).pipe(Layer.provide(store))
 * ```
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: HookDeliveryOptions): Layer.Layer<never, InvalidOptions, JobStore> =>
  Layer.effectDiscard(make(options))
