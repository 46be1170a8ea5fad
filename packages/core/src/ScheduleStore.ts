/**
 * The part of the store contract that keeps cron schedules' state (store
 * rules S1–S3, docs/writing-a-store.md): per schedule name, whether it is
 * paused and the latest tick it reached. `JobStore` extends it, so every
 * store implements it.
 *
 * Exactly one job per tick, across any number of processes, is the store's
 * promise, not the schedulers' timing: {@link ScheduleStoreShape.fireTick}
 * moves the schedule's `lastTickAt` forward and inserts the tick's job in one
 * atomic write, and only while `lastTickAt` is before the tick. Every process
 * racing for the same tick computes the same instant from the same cron; one
 * wins, the others see `fired: false` and write nothing.
 *
 * @since 0.2.0
 */
import { Data } from "effect"
import type { Effect } from "effect"
import type { JobRecord, NewJob } from "./Job.js"
import type { StoreError } from "./JobError.js"

/**
 * A schedule's state in the store.
 *
 * @since 0.2.0
 * @category models
 */
export interface ScheduleState {
  readonly name: string
  /** Paused: no tick fires until it is resumed. */
  readonly paused: boolean
  /** The latest tick fired (or passed over as missed); the ticks after it are due. */
  readonly lastTickAt: Date
  /** The job of the latest fired tick; null before the first, or when the latest was passed over. */
  readonly lastJobId: string | null
  readonly updatedAt: Date
}

/**
 * One tick to fire: its instant and the job to insert (null: pass the tick
 * over without a job, as a missed tick under `missed: "skip"`).
 *
 * @since 0.2.0
 * @category models
 */
export interface TickRequest {
  readonly name: string
  readonly tick: Date
  readonly job: NewJob | null
}

/**
 * What {@link ScheduleStoreShape.fireTick} did.
 *
 * @since 0.2.0
 * @category models
 */
export interface TickOutcome {
  /** This call won the tick (false: another process did already, the schedule is paused, or unknown). */
  readonly fired: boolean
  /** The job inserted for the tick (only when fired with a job). */
  readonly job: JobRecord | null
}

/**
 * No schedule of this name is registered in the store.
 *
 * @since 0.2.0
 * @category errors
 */
export class ScheduleNotFound extends Data.TaggedError("ScheduleNotFound")<{ readonly name: string }> {
  override get message() {
    return `schedule "${this.name}" not found`
  }
}

/**
 * The schedule verbs every store implements.
 *
 * @since 0.2.0
 * @category models
 */
export interface ScheduleStoreShape {
  /**
   * Rule S1: create the schedule's state if absent (not paused, `lastTickAt =
   * since`: no tick before it is due), and return the state, new or existing.
   * Concurrent calls for one name create it once.
   */
  readonly registerSchedule: (name: string, since: Date) => Effect.Effect<ScheduleState, StoreError>
  /** The states of these schedules that exist, in any order. */
  readonly getSchedules: (names: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<ScheduleState>, StoreError>
  /**
   * Rule S2: when the schedule exists, is not paused and its `lastTickAt` is
   * before `tick`: set `lastTickAt = tick`, `lastJobId`, and insert the job, in
   * one atomic write, and answer `fired: true`. Otherwise write nothing and
   * answer `fired: false`. Under any number of concurrent calls for one tick
   * (or for ticks out of order), each tick fires at most once and ticks only
   * move forward.
   */
  readonly fireTick: (request: TickRequest) => Effect.Effect<TickOutcome, StoreError>
  /**
   * Rule S3: pause (`paused: true`) or resume. Resuming moves `lastTickAt`
   * forward to `at` when it is earlier, so the ticks of the pause are not
   * caught up. Idempotent.
   */
  readonly setSchedulePaused: (
    name: string,
    paused: boolean,
    at: Date
  ) => Effect.Effect<ScheduleState, ScheduleNotFound | StoreError>
}
