/**
 * What the parts of one runner share: its settings, its store, the jobs it
 * holds now, and the wake-up signal of its claim loop. Each part (claim loop,
 * job run, lease keeper, progress writer, completion batcher, change
 * listener, lease recovery, pruning) is a module beside this one and takes
 * this state rather than closing over `Runner.make`'s locals.
 *
 * @internal
 */
import { hostname } from "node:os"
import { Duration, Effect, Queue } from "effect"
import type { Context } from "effect"
import type { JobRecord } from "../../Job.js"
import type * as JobDefinition from "../../JobDefinition.js"
import type { JobStoreShape } from "../../JobStore.js"
import type { RunnerOptions } from "../../Runner.js"
import { registry } from "../registry.js"
import type { StopReason } from "./cancellation.js"

/** A job this runner holds. */
export interface Running {
  readonly job: JobRecord
  /** Interrupt the handler for this reason (the first reason wins). Called as a method. */
  stop(reason: StopReason): Effect.Effect<void>
  /** Heartbeat now rather than at the next period: learns of a cancel request that was not announced. */
  beatNow(): void
  /** When the lease keeper heartbeats this job next (0: at once). */
  nextBeatAt: number
  /** A heartbeat of this job is in flight. */
  beating?: boolean
  /** The handler has ended; only the store write is left. The slot is free for the next job. */
  settling?: boolean
}

/** The options, resolved to their defaults, in milliseconds. */
export interface Settings {
  readonly concurrency: number
  readonly leaseMs: number
  readonly heartbeatMs: number
  readonly pollMs: number
  readonly progressMs: number
  readonly graceMs: number
  /** How long a stopped async handler's Promise is waited for (`RunnerOptions.abandonAfter`). */
  readonly abandonMs: number
  /** The largest result stored, in UTF-8 bytes of its JSON (`RunnerOptions.maxResultBytes`). */
  readonly maxResultBytes: number
  readonly workerId: string
  readonly types: ReadonlyArray<string>
  readonly queues: ReadonlyArray<string>
}

export interface RunnerState {
  readonly store: JobStoreShape
  readonly settings: Settings
  readonly definitions: ReadonlyMap<string, JobDefinition.Any>
  /** The services the definitions' handlers need. */
  readonly services: Context.Context<never>
  readonly running: Map<string, Running>
  /**
   * Wakes the claim loop because a slot freed; many wakes before it looks count as one. After a
   * claim that found fewer jobs than it asked (the queues were drained), a freed slot alone does
   * not make it claim again: only an {@link announce}ment or the poll interval does.
   */
  readonly wake: () => void
  /**
   * Wakes the claim loop because claimable jobs may have appeared: the store announced a job
   * claimable (an enqueue, a release, a retry due now, a recovered lease: rule 11), the
   * announcements resumed after a loss, a job of a limited group was released (its group has a
   * slot again, which no store announces).
   */
  readonly announce: () => void
  /** Set by {@link announce}; the claim loop clears it as a claim starts (that claim sees what was announced). */
  announced: boolean
  /** Set once shutdown begins: claim no more. */
  stopping: boolean
  /** A job's run is over (settled or dropped): forget it, wake the claim loop and whoever waits for {@link drained}. */
  readonly release: (id: string) => void
  /** Succeeds once this runner holds no job (at once when it holds none now). */
  readonly drained: Effect.Effect<void>
  readonly log: (message: string, job: JobRecord, extra?: Record<string, unknown>) => Effect.Effect<void>
}

export const ms = (d: Duration.Input): number => Duration.toMillis(d)

/** `RunnerOptions.maxResultBytes`'s default: 16 MiB. */
export const defaultMaxResultBytes = 16 * 1024 * 1024

export const settings = (options: RunnerOptions, definitions: ReadonlyMap<string, JobDefinition.Any>): Settings => {
  const leaseMs = ms(options.lease ?? "30 seconds")
  return {
    concurrency: options.concurrency ?? 10,
    leaseMs,
    heartbeatMs: options.heartbeat === undefined ? Math.max(10, Math.floor(leaseMs / 3)) : ms(options.heartbeat),
    pollMs: ms(options.pollInterval ?? "1 second"),
    progressMs: ms(options.progressInterval ?? "250 millis"),
    graceMs: ms(options.shutdownGrace ?? "10 seconds"),
    abandonMs: ms(options.abandonAfter ?? "30 seconds"),
    maxResultBytes: options.maxResultBytes ?? defaultMaxResultBytes,
    workerId: options.workerId ?? `${hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 8)}`,
    types: [...definitions.keys()],
    queues: [...new Set([...definitions.values()].map((d) => d.queue))]
  }
}

/** The state of a new runner, and the queue its claim loop waits on. */
export const make = (
  store: JobStoreShape,
  options: RunnerOptions,
  services: Context.Context<never>
): Effect.Effect<{ readonly state: RunnerState; readonly wakes: Queue.Dequeue<void> }> =>
  Effect.gen(function*() {
    const definitions = registry(options.definitions)
    const resolved = settings(options, definitions)
    const wakes = yield* Queue.sliding<void>(1)
    const workerId = resolved.workerId
    const running = new Map<string, Running>()
    // a wake already waiting to be taken stands for this one too (no offer, no allocation)
    const wake = () => {
      if (Queue.sizeUnsafe(wakes) === 0) Queue.offerUnsafe(wakes, undefined)
    }
    // a claim started after the announcement sees its jobs; the flag is cleared as a claim starts
    const announce = () => {
      state.announced = true
      wake()
    }
    // resumed when `running` becomes empty (shutdown waits for the jobs it holds this way)
    const waiters = new Set<() => void>()
    const state: RunnerState = {
      store,
      settings: resolved,
      definitions,
      services,
      running,
      wake,
      announce,
      announced: false,
      stopping: false,
      release: (id) => {
        const job = running.get(id)?.job
        running.delete(id)
        // a limited group's job is over: its group may take another job, which no one announces
        if (job !== undefined && job.groupKey !== null && job.groupLimit !== null) announce()
        else wake()
        if (running.size === 0 && waiters.size > 0) {
          const all = [...waiters]
          waiters.clear()
          for (const w of all) w()
        }
      },
      drained: Effect.callback<void>((resume) => {
        if (running.size === 0) return resume(Effect.void)
        const w = () => resume(Effect.void)
        waiters.add(w)
        return Effect.sync(() => waiters.delete(w))
      }),
      log: (message, job, extra = {}) =>
        Effect.logDebug(message).pipe(
          Effect.annotateLogs({ jobId: job.id, type: job.type, attempt: job.attempts, workerId, ...extra })
        )
    }
    return { state, wakes }
  })
