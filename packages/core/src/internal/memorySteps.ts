/**
 * The step verbs of the memory store (store rules 21–22). Steps hang off the
 * job's record object in a WeakMap, so deleting or pruning the job drops them
 * without any bookkeeping; each verb is one synchronous step, atomic like the
 * rest of the memory store.
 */
import { Clock, Effect } from "effect"
import type { JobRecord, Json, Lease } from "../Job.js"
import type { LeaseLost } from "../JobError.js"
import type { StepInfo, StepKey, StepRecord, StepStoreShape } from "../StepStore.js"

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

export interface Deps<J extends JobRecord> {
  readonly find: (id: string) => J | undefined
  readonly held: (lease: Lease) => Effect.Effect<J, LeaseLost>
  /** Move a held job to pending at `until` (the attempt not counted) or cancelled; the record after it. */
  readonly sleep: (job: J, until: Date, now: number) => JobRecord
}

export const make = <J extends JobRecord>(deps: Deps<J>) => {
  const byJob = new WeakMap<J, Map<string, Mutable<StepRecord>>>()
  const stepsOf = (job: J) => {
    let steps = byJob.get(job)
    if (!steps) byJob.set(job, (steps = new Map()))
    return steps
  }
  const ordered = (job: J | undefined): Array<Mutable<StepRecord>> =>
    job ? [...(byJob.get(job)?.values() ?? [])].sort((a, b) => a.index - b.index) : []
  const copy = (s: StepRecord): StepRecord => ({ ...s })
  const upsert = (job: J, key: StepKey, now: number): Mutable<StepRecord> => {
    const steps = stepsOf(job)
    let step = steps.get(key.name)
    if (!step) {
      step = {
        jobId: job.id, name: key.name, index: key.index, status: "running", attempts: 0,
        result: null, error: null, startedAt: new Date(now), completedAt: null
      }
      steps.set(key.name, step)
    }
    step.index = key.index
    return step
  }
  const write = (lease: Lease, key: StepKey, f: (step: Mutable<StepRecord>, now: number) => void) =>
    Effect.flatMap(deps.held(lease), (job) =>
      Clock.currentTimeMillis.pipe(Effect.map((now) => {
        const step = upsert(job, key, now)
        f(step, now)
        return copy(step)
      })))

  const verbs: StepStoreShape = {
    steps: (jobId) => Effect.sync(() => ordered(deps.find(jobId)).map(copy)),
    stepStarted: (lease, key) =>
      write(lease, key, (step, now) => {
        step.status = "running"
        step.attempts++
        step.startedAt = new Date(now)
        step.completedAt = null
      }),
    stepCompleted: (lease, key, result: Json) =>
      write(lease, key, (step, now) => {
        step.status = "completed"
        step.result = result
        step.error = null
        step.completedAt = new Date(now)
      }),
    stepFailed: (lease, key, message) =>
      write(lease, key, (step) => {
        step.status = "failed"
        step.error = message
      }),
    sleep: (lease, key, until) =>
      Effect.flatMap(deps.held(lease), (job) =>
        Clock.currentTimeMillis.pipe(Effect.map((now) => {
          const step = upsert(job, key, now)
          step.status = "completed"
          step.attempts = Math.max(step.attempts, 1)
          step.result = { until: until.toISOString() }
          step.completedAt = new Date(now)
          return deps.sleep(job, until, now)
        })))
  }
  /** The steps of a job as the view shows them. */
  const info = (job: J): ReadonlyArray<StepInfo> =>
    ordered(job).map(({ jobId: _j, result: _r, ...rest }) => rest)
  return { verbs, info }
}
