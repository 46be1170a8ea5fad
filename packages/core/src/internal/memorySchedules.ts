/**
 * The schedule verbs of `MemoryStore` (rules S1–S3): a map of states. Every
 * verb is one synchronous step, so a tick's compare-and-set and its job's
 * insert are atomic by construction.
 */
import { Clock, Effect } from "effect"
import type { NewJob } from "../Job.js"
import type { Enqueued } from "../JobStore.js"
import { ScheduleNotFound } from "../ScheduleStore.js"
import type { ScheduleState, ScheduleStoreShape } from "../ScheduleStore.js"

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

export const memorySchedules = (insert: (job: NewJob, now: number) => Enqueued): ScheduleStoreShape => {
  const states = new Map<string, Mutable<ScheduleState>>()
  const copy = (s: ScheduleState): ScheduleState => ({ ...s })
  return {
    registerSchedule: (name, since) =>
      Clock.currentTimeMillis.pipe(Effect.map((now) => {
        let state = states.get(name)
        if (!state) {
          state = { name, paused: false, lastTickAt: since, lastJobId: null, updatedAt: new Date(now) }
          states.set(name, state)
        }
        return copy(state)
      })),
    getSchedules: (names) =>
      Effect.sync(() => names.flatMap((n) => {
        const s = states.get(n)
        return s ? [copy(s)] : []
      })),
    fireTick: ({ job, name, tick }) =>
      Clock.currentTimeMillis.pipe(Effect.map((now) => {
        const state = states.get(name)
        if (!state || state.paused || state.lastTickAt.getTime() >= tick.getTime()) return { fired: false, job: null }
        const inserted = job === null ? null : insert(job, now)
        state.lastTickAt = tick
        state.lastJobId = inserted?.created ? inserted.job.id : null
        state.updatedAt = new Date(now)
        return { fired: true, job: inserted?.created ? inserted.job : null }
      })),
    setSchedulePaused: (name, paused, at) =>
      Clock.currentTimeMillis.pipe(Effect.flatMap((now) => {
        const state = states.get(name)
        if (!state) return Effect.fail(new ScheduleNotFound({ name }))
        if (state.paused !== paused) {
          state.paused = paused
          state.updatedAt = new Date(now)
          if (!paused && state.lastTickAt.getTime() < at.getTime()) state.lastTickAt = at
        }
        return Effect.succeed(copy(state))
      }))
  }
}
