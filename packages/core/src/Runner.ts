/**
 * The runner claims jobs from the store and runs their handlers as fibers:
 * up to a concurrency limit, woken by store notifications with polling as the
 * fallback. It heartbeats leases, coalesces progress, applies retry policies,
 * enforces timeouts, turns cancel requests into interruption, recovers
 * expired leases, prunes old jobs, keeps the store's chart summary current,
 * and shuts down gracefully.
 *
 * @since 0.1.0
 */
import { Effect, Layer } from "effect"
import type { Context, Duration, Scope } from "effect"
import * as HookDelivery from "./HookDelivery.js"
import type * as Hooks from "./Hooks.js"
import type * as JobDefinition from "./JobDefinition.js"
import type { InvalidOptions } from "./JobError.js"
import { JobStore } from "./JobStore.js"
import * as ChangeListener from "./internal/runner/changeListener.js"
import * as ClaimLoop from "./internal/runner/claimLoop.js"
import * as CompletionBatcher from "./internal/runner/completionBatcher.js"
import * as LeaseKeeper from "./internal/runner/leaseKeeper.js"
import * as LeaseRecovery from "./internal/runner/leaseRecovery.js"
import * as Pruning from "./internal/runner/pruning.js"
import * as SeriesSummary from "./internal/runner/seriesSummary.js"
import * as Shutdown from "./internal/runner/shutdown.js"
import * as Validate from "./internal/runner/validate.js"
import * as Telemetry from "./internal/telemetry.js"
import * as RunnerState from "./internal/runner/state.js"

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
  /**
   * Claim attempt period when no notification arrives (default 1 s): once a claim has found the
   * queues drained, how soon a job nobody announces is claimed (a delayed job or a retry with a
   * delay that became due, or one whose limited group got a free slot in another process).
   * Enqueues, releases, retries due at once, recovered leases and an operator's runNow or retry
   * are announced (by the store, to every process), and claimed at once. The memory store also
   * announces delayed jobs, retries and durable sleeps when they become due; on PostgreSQL the
   * poll finds them.
   */
  readonly pollInterval?: Duration.Input
  /** At most one progress write per job per this period (default 250 ms). */
  readonly progressInterval?: Duration.Input
  /** How long running jobs may finish on shutdown before they are interrupted (default 10 s). */
  readonly shutdownGrace?: Duration.Input
  /**
   * How long the runner waits for a plain async handler (`run`) it stopped
   * (timeout, cancel, shutdown, lease lost: `ctx.signal` aborts) to settle its
   * Promise, before it gives up on it (default 30 s). Until then the attempt is
   * not over: its slot and its group's place stay taken and its lease is kept,
   * so a retry or another job of the group does not run beside it. After this
   * the runner logs a warning, settles the attempt and frees the slot while the
   * abandoned Promise may still run. Effect handlers are interrupted instead.
   * At shutdown the runner waits for it at most 5 s past `shutdownGrace`; a job
   * still running then is left `processing` for lease recovery (docs/operations.md,
   * "Shutdown").
   *
   * @example
   * ```ts
   * Runner.layer({ definitions: [sendEmail], abandonAfter: "2 minutes" })
   * ```
   */
  readonly abandonAfter?: Duration.Input
  /**
   * The largest result a handler may return, in UTF-8 bytes of its JSON text
   * (default 16 MiB). A larger result is not stored: the attempt fails with
   * `ResultTooLarge` naming the size and the limit, and the job fails without
   * another attempt (the error is fatal). Effect and plain async handlers alike.
   * Each durable step's result (`ctx.step`) has the same limit: a larger one is
   * not stored, the step is recorded failed with `Step.StepResultTooLarge`
   * (naming the step), and the job fails the same way.
   * Results are read whole by `get`, `watch`, `result()` and every SSE frame
   * of a completed job: keep large outputs elsewhere and return where they are.
   *
   * @example
   * ```ts
   * Runner.layer({ definitions: [renderReport], maxResultBytes: 1024 * 1024 })
   * ```
   */
  readonly maxResultBytes?: number
  /** Delete terminal jobs older than `after` every `every` (default 7 days / 1 hour); false: never. */
  readonly prune?: { readonly after: Duration.Input; readonly every: Duration.Input } | false
  /**
   * Keep the store's chart summary current (`AdminStore.summarizeSeries`, where
   * the store has it): at start and every `every` (default 30 s), in bounded
   * steps, one process at a time across all runners; false: never (chart reads
   * then start it in their own process).
   */
  readonly seriesSummary?: { readonly every: Duration.Input } | false
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

/**
 * Start a runner in the current scope; closing the scope shuts it down
 * gracefully. Its parts are modules of `internal/runner/`: the claim loop,
 * the lease keeper, one job's run (attempt, progress writer, settling), the
 * completion batcher, the change listener, lease recovery, pruning, the
 * chart summary and shutdown.
 *
 * Every option is checked first: invalid ones (a `concurrency` of 0, a
 * `lease` of "soon", two definitions of one type…) fail with one
 * {@link InvalidOptions} naming them all, and nothing starts.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <const Defs extends ReadonlyArray<JobDefinition.Any>>(
  options: RunnerOptions<Defs>
): Effect.Effect<Runner, InvalidOptions, JobStore | Scope.Scope | JobDefinition.Services<Defs[number]>> =>
  Effect.gen(function*() {
    const invalid = Validate.check(options)
    if (invalid) return yield* invalid
    const telemetry = yield* Telemetry.current
    const store = Telemetry.instrumentStore(telemetry, yield* JobStore)
    const services = yield* Effect.context<JobDefinition.Services<Defs[number]>>()
    const { state, wakes } = yield* RunnerState.make(store, options, services as Context.Context<never>)
    // hook deliveries are recorded for subscribed hooks only: subscribe before the first claim
    if (options.hooks) yield* HookDelivery.subscribe(store, options.hooks, state.settings.types)
    const completions = yield* CompletionBatcher.start(store, state.settings.leaseMs)
    const listener = yield* ChangeListener.start(state)
    const keeper = yield* LeaseKeeper.start(state)
    const loop = yield* ClaimLoop.start(state, { completions, keeper }, wakes)
    const recovery = yield* LeaseRecovery.start(state)
    const prune = options.prune === false
      ? undefined
      : yield* Pruning.start(store, options.prune || { after: "7 days", every: "1 hour" })
    const summary = options.seriesSummary === false
      ? undefined
      : yield* SeriesSummary.start(store, options.seriesSummary || { every: "30 seconds" })
    // the queue depth gauges (metrics on), until the runner's scope closes
    yield* Effect.forkScoped(Telemetry.depthSampler(telemetry, store, state.definitions))
    const shutdown = Shutdown.make(state, { loop, recovery, prune, summary, listener, completer: completions.fiber, keeper: keeper.fiber })
    // the store records hook deliveries with each transition; delivered after this runner's shutdown
    if (options.hooks) {
      yield* HookDelivery.make({ ...options.hookDelivery, hooks: options.hooks, types: state.settings.types, workerId: state.settings.workerId })
    }
    yield* Effect.addFinalizer(() => shutdown)
    return {
      workerId: state.settings.workerId,
      running: () => [...state.running.keys()],
      shutdown
    }
  })

/**
 * A runner as a layer: started when the layer is built, shut down gracefully
 * when its scope closes. Invalid options fail the layer with
 * {@link InvalidOptions}.
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
): Layer.Layer<never, InvalidOptions, JobStore | JobDefinition.Services<Defs[number]>> =>
  Layer.effectDiscard(make(options))
