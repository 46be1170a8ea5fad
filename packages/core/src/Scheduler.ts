/**
 * Fires cron schedules ({@link JobSchedule}) and manages them: pause, resume,
 * trigger now, and their next run times.
 *
 * Every process configured with a schedule runs its loop: it sleeps on
 * Effect's `Clock` until the next tick (so `TestClock` drives it in tests),
 * then asks the store to fire each due tick. The store fires a tick once,
 * whoever asks first (`ScheduleStore`, rule S2): no leader, no timing
 * assumption. An idle schedule costs one timer and no store round trip until
 * its next tick.
 *
 * Ticks are due after the schedule's `lastTickAt` (stored). A tick older than
 * `missedAfter` when a process sees it was missed (every process was down):
 * `missed: "skip"` passes the missed ticks over, `"runOnce"` fires one job for
 * all of them (at the latest missed tick). Later ticks fire one job each.
 *
 * @example
 * ```ts
 * const program = Effect.gen(function*() {
 *   const schedules = yield* Scheduler.Schedules
 *   yield* schedules.pause("refetch")
 *   const [info] = yield* schedules.list()
 *   console.log(info?.paused, info?.nextRunAt)
 * }).pipe(Effect.provide(Scheduler.layer({ schedules: [refetchHourly] }).pipe(Layer.provide(MemoryStore.layer))))
 * ```
 * @since 0.2.0
 */
import { Cause, Clock, Context, Effect, Layer } from "effect"
import type { Scope } from "effect"
import type { JobRecord } from "./Job.js"
import type * as JobDefinition from "./JobDefinition.js"
import type { StoreError } from "./JobError.js"
import * as JobSchedule from "./JobSchedule.js"
import { JobStore } from "./JobStore.js"
import { ScheduleNotFound } from "./ScheduleStore.js"
import type { ScheduleState } from "./ScheduleStore.js"

/**
 * A schedule as the API shows it: its configuration, its stored state and its next runs.
 *
 * @since 0.2.0
 * @category models
 */
export interface ScheduleInfo {
  readonly name: string
  readonly cron: string
  readonly timeZone: string
  /** The job type it enqueues. */
  readonly type: string
  readonly owner: string | null
  readonly missed: JobSchedule.MissedPolicy
  readonly paused: boolean
  /** The latest tick fired or passed over; null until a process registered the schedule. */
  readonly lastTickAt: Date | null
  /** The job of the latest fired tick. */
  readonly lastJobId: string | null
  /** The next tick; null while paused. */
  readonly nextRunAt: Date | null
  /** The next 5 ticks (empty while paused). */
  readonly nextRuns: ReadonlyArray<Date>
}

/**
 * @since 0.2.0
 * @category models
 */
export interface SchedulesShape {
  /** Every configured schedule, in configuration order. */
  readonly list: () => Effect.Effect<ReadonlyArray<ScheduleInfo>, StoreError>
  readonly get: (name: string) => Effect.Effect<ScheduleInfo, ScheduleNotFound | StoreError>
  /** No tick fires until resumed, in any process. */
  readonly pause: (name: string) => Effect.Effect<ScheduleInfo, ScheduleNotFound | StoreError>
  /** Ticks fire again from now on; the ticks of the pause are not caught up. */
  readonly resume: (name: string) => Effect.Effect<ScheduleInfo, ScheduleNotFound | StoreError>
  /** Enqueue the schedule's job now (also while paused), outside its ticks. */
  readonly trigger: (name: string) => Effect.Effect<JobRecord, ScheduleNotFound | StoreError>
}

/**
 * The schedules API service.
 *
 * @since 0.2.0
 * @category services
 */
export class Schedules extends Context.Service<Schedules, SchedulesShape>()("@jobtrack/core/Schedules") {}

/**
 * @since 0.2.0
 * @category models
 */
export interface SchedulerOptions {
  readonly schedules: ReadonlyArray<JobSchedule.Any>
  /** When given, each schedule's definition must be among them. */
  readonly definitions?: ReadonlyArray<JobDefinition.Any>
}

const upcoming = 5
/** Longest single sleep: a clock jump (suspend, NTP) is noticed within it. */
const maxSleepMs = 10 * 60_000
/** Most ticks fired in one pass (a per-second cron with a long `missedAfter`); the next pass continues. */
const maxPerPass = 1_000

const info = (s: JobSchedule.Parsed, state: ScheduleState | undefined, now: number): ScheduleInfo => {
  const paused = state?.paused ?? false
  const nextRuns = paused ? [] : JobSchedule.nextRuns(s, new Date(now), upcoming)
  return {
    name: s.name,
    cron: s.expression,
    timeZone: s.timeZone,
    type: s.type,
    owner: s.owner,
    missed: s.missed,
    paused,
    lastTickAt: state?.lastTickAt ?? null,
    lastJobId: state?.lastJobId ?? null,
    nextRunAt: nextRuns[0] ?? null,
    nextRuns
  }
}

/**
 * The API over already-parsed schedules and the store in context.
 *
 * @since 0.2.0
 * @category constructors
 */
export const makeApi = (schedules: ReadonlyArray<JobSchedule.Parsed>): Effect.Effect<SchedulesShape, never, JobStore> =>
  Effect.gen(function*() {
    const store = yield* JobStore
    const byName = new Map(schedules.map((s) => [s.name, s]))
    const find = (name: string) => {
      const s = byName.get(name)
      return s ? Effect.succeed(s) : Effect.fail(new ScheduleNotFound({ name }))
    }
    const setPaused = (name: string, paused: boolean) =>
      Effect.gen(function*() {
        const s = yield* find(name)
        const now = yield* Clock.currentTimeMillis
        yield* store.registerSchedule(name, new Date(now))
        const state = yield* store.setSchedulePaused(name, paused, new Date(now))
        return info(s, state, now)
      })
    return {
      list: () =>
        Effect.gen(function*() {
          const states = new Map((yield* store.getSchedules([...byName.keys()])).map((st) => [st.name, st]))
          const now = yield* Clock.currentTimeMillis
          return schedules.map((s) => info(s, states.get(s.name), now))
        }),
      get: (name) =>
        Effect.gen(function*() {
          const s = yield* find(name)
          const [state] = yield* store.getSchedules([name])
          return info(s, state, yield* Clock.currentTimeMillis)
        }),
      pause: (name) => setPaused(name, true),
      resume: (name) => setPaused(name, false),
      trigger: (name) =>
        Effect.gen(function*() {
          const s = yield* find(name)
          const now = yield* Clock.currentTimeMillis
          const { job } = yield* store.enqueue(JobSchedule.newJob(s, new Date(now)))
          yield* Effect.logInfo(`jobtrack: schedule "${name}" triggered: job ${job.id}`)
          return job
        })
    }
  })

/**
 * One pass over a schedule: fire what is due at `now`. Returns how many ticks it asked for.
 */
const pass = (s: JobSchedule.Parsed, now: number) =>
  Effect.gen(function*() {
    const store = yield* JobStore
    const state = yield* store.registerSchedule(s.name, new Date(now))
    if (state.paused) return 0
    let after = state.lastTickAt
    let asked = 0
    const fire = (tick: Date, withJob: boolean) =>
      Effect.tap(
        store.fireTick({ name: s.name, tick, job: withJob ? JobSchedule.newJob(s, new Date(now)) : null }),
        (out) => {
          asked++
          return out.fired && out.job
            ? Effect.logDebug(`jobtrack: schedule "${s.name}" fired ${tick.toISOString()}: job ${out.job.id}`)
            : Effect.void
        }
      )
    // ticks older than the cutoff were missed by every process
    const cutoff = now - s.missedAfterMs
    const first = JobSchedule.nextRuns(s, after, 1)[0]
    if (first !== undefined && first.getTime() <= cutoff) {
      const latestMissed = JobSchedule.latestAtOrBefore(s, new Date(cutoff))
      const out = yield* fire(latestMissed, s.missed === "runOnce")
      if (out.fired && s.missed === "skip") {
        yield* Effect.logInfo(`jobtrack: schedule "${s.name}" skipped the ticks missed up to ${latestMissed.toISOString()}`)
      }
      after = latestMissed
    }
    let n = 0
    for (const tick of JobSchedule.ticksAfter(s, after)) {
      if (tick.getTime() > now || n++ >= maxPerPass) break
      yield* fire(tick, true)
    }
    return asked
  })

/**
 * Run the schedules' loops in the current scope (closing it stops them).
 *
 * @since 0.2.0
 * @category constructors
 */
export const run = (schedules: ReadonlyArray<JobSchedule.Parsed>): Effect.Effect<void, never, JobStore | Scope.Scope> =>
  Effect.forEach(schedules, (s) => Effect.forkScoped(loop(s)), { discard: true })

const loop = (s: JobSchedule.Parsed): Effect.Effect<never, never, JobStore> =>
  Effect.gen(function*() {
    /** Every tick up to here was handled (by this process or another). */
    let handledUpTo: number | undefined
    let failures = 0
    while (true) {
      const now = yield* Clock.currentTimeMillis
      const due = handledUpTo === undefined ||
        (JobSchedule.nextRuns(s, new Date(handledUpTo), 1)[0]?.getTime() ?? Infinity) <= now
      if (due) {
        const result = yield* Effect.result(pass(s, now))
        if (result._tag === "Failure") {
          failures++
          yield* Effect.logWarning(`jobtrack: schedule "${s.name}" could not fire (${failures}): ${result.failure.reason}`)
          yield* Effect.sleep(Math.min(1_000 * 2 ** Math.min(failures - 1, 5), 30_000))
          continue
        }
        failures = 0
        handledUpTo = now
      }
      const next = JobSchedule.nextRuns(s, new Date(now), 1)[0]
      const wait = next === undefined ? maxSleepMs : Math.min(Math.max(next.getTime() - now, 1), maxSleepMs)
      yield* Effect.sleep(wait)
    }
  }).pipe(
    Effect.catchCause((cause) =>
      Cause.hasInterruptsOnly(cause)
        ? Effect.interrupt
        : Effect.logError(`jobtrack: schedule "${s.name}" stopped`, cause).pipe(Effect.andThen(Effect.never))
    )
  ) as Effect.Effect<never, never, JobStore>

/**
 * Parse the schedules, provide the {@link Schedules} API and run their loops
 * for as long as the layer lives: the Effect form of `Jobtrack.make`'s
 * `schedules` option.
 *
 * @since 0.2.0
 * @category layers
 */
export const layer = (options: SchedulerOptions): Layer.Layer<Schedules, JobSchedule.InvalidSchedules, JobStore> =>
  Layer.effect(
    Schedules,
    Effect.gen(function*() {
      const parsed = yield* JobSchedule.parse(options.schedules, options.definitions)
      yield* run(parsed)
      return yield* makeApi(parsed)
    })
  )

/**
 * The {@link Schedules} API only, without running the loops (a process that
 * reads and manages schedules another process fires).
 *
 * @since 0.2.0
 * @category layers
 */
export const layerApi = (options: SchedulerOptions): Layer.Layer<Schedules, JobSchedule.InvalidSchedules, JobStore> =>
  Layer.effect(Schedules, Effect.flatMap(JobSchedule.parse(options.schedules, options.definitions), makeApi))
