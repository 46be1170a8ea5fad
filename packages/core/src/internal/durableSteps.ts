/**
 * The runtime of durable steps and durable sleep for one attempt: the
 * `step` and `sleep` of its `JobContext`. The job's recorded steps are read
 * once, on the first step; each step takes the next place in the sequence,
 * is checked against what an earlier attempt recorded there, and is either
 * replayed from its stored result or run, with its writes fenced by the
 * attempt's lease (a refused write means another worker owns the job: the
 * handler is stopped as on any lost lease).
 *
 * A step's result is stored only within the runner's `maxResultBytes`, as a
 * job's is; a result that cannot be stored (over the limit, not JSON, not
 * matching its schema) records the step failed with the reason, and no
 * result.
 *
 * A durable sleep records itself and releases the job in one store write,
 * then ends the attempt with a {@link Sleeping} defect, which the runner
 * settles as "nothing left to write".
 */
import { Cause, Clock, Duration, Effect, Exit, Option } from "effect"
import type { JobRecord, Json, Lease } from "../Job.js"
import type { JobContext } from "../JobContext.js"
import type { LeaseLost, StoreError } from "../JobError.js"
import type { JobStoreShape } from "../JobStore.js"
import * as PayloadSchema from "../PayloadSchema.js"
import * as RetryPolicy from "../RetryPolicy.js"
import { DuplicateStepName, InvalidStep, StepResultTooLarge, StepSequenceChanged, StepTimeout } from "../Step.js"
import type { StepOptions } from "../Step.js"
import type { StepKey, StepRecord } from "../StepStore.js"
import * as Storable from "../Storable.js"
import { errorText, isFatalCause } from "./attempt.js"
import * as ResultSize from "./resultSize.js"
import * as Telemetry from "./telemetry.js"

/** The defect that ends an attempt which went to sleep. */
export class Sleeping {
  readonly _tag = "@jobtrack/core/Sleeping"
  constructor(readonly until: Date) {}
}

const isSleeping = (u: unknown): boolean =>
  u instanceof Sleeping || (typeof u === "object" && u !== null && "_tag" in u && u._tag === "@jobtrack/core/Sleeping")

/** Whether an attempt ended by going to sleep (the store has already released the job). */
export const slept = (exit: Exit.Exit<unknown, unknown>): boolean =>
  Exit.isFailure(exit) &&
  exit.cause.reasons.some((r) => (r._tag === "Die" && isSleeping(r.defect)) || (r._tag === "Fail" && isSleeping(r.error)))

/** A thrown or rejected `Sleeping` (async handlers) stays recognisable. */
export { isSleeping }

export const make = (
  store: JobStoreShape,
  lease: Lease,
  job: JobRecord,
  leaseLost: Effect.Effect<void>,
  maxResultBytes: number
): Pick<JobContext, "step" | "sleep"> => {
  let recorded: ReadonlyArray<StepRecord> | undefined
  const names = new Set<string>()
  let next = 0
  let sleeps = 0

  const load = Effect.suspend(() =>
    recorded ? Effect.succeed(recorded) : Effect.map(store.steps(job.id), (rows) => (recorded = rows))
  )
  /** A holder's write; refused: stop the handler as on any lost lease. */
  const holder = <A>(write: Effect.Effect<A, LeaseLost | StoreError>): Effect.Effect<A, StoreError> =>
    write.pipe(Effect.catchTag("LeaseLost", () => Effect.andThen(leaseLost, Effect.interrupt)))

  /** The step's place in the sequence, checked against what earlier attempts recorded. */
  const place = (name: string) =>
    Effect.gen(function*() {
      const problem = typeof name !== "string" || name.length === 0 || name.length > 200
        ? "a step name is 1-200 characters"
        : Storable.textProblem(name)
      if (problem) return yield* new InvalidStep({ name: String(name), problem })
      if (names.has(name)) return yield* new DuplicateStepName({ name })
      names.add(name)
      const key: StepKey = { name, index: next++ }
      const steps = yield* load
      const here = steps.find((s) => s.index === key.index)
      if (here && here.name !== name) {
        return yield* new StepSequenceChanged({ index: key.index, recorded: here.name, requested: name })
      }
      const elsewhere = steps.find((s) => s.name === name && s.index !== key.index)
      if (elsewhere) return yield* new StepSequenceChanged({ index: elsewhere.index, recorded: name, requested: name })
      return { key, prior: here }
    })

  /** The stored form of a step's result: encoded by its schema, or the JSON as is. */
  const encode = (name: string, schema: StepOptions["schema"], value: unknown) =>
    Effect.gen(function*() {
      let stored = value
      if (schema) {
        const checked = yield* PayloadSchema.validateResult(schema, value)
        if (checked._tag === "Invalid") {
          return yield* new InvalidStep({ name, problem: `result does not match its schema: ${PayloadSchema.describe(checked.issues)}` })
        }
        stored = checked.stored
      }
      const unstorable = Storable.jsonIssues(stored === undefined ? null : stored, ["result"])
      if (unstorable.length > 0) {
        return yield* new InvalidStep({ name, problem: `result cannot be stored: ${PayloadSchema.describe(unstorable)}` })
      }
      const json = (stored === undefined ? null : stored) as Json
      // within the runner's limit, as a job's result (nothing, a flag, a number: never near it)
      const over = json !== null && (typeof json === "object" || typeof json === "string")
        ? ResultSize.oversize(json, maxResultBytes)
        : undefined
      if (over !== undefined) return yield* new StepResultTooLarge({ name, ...over, limit: maxResultBytes })
      return json
    })

  const replay = (name: string, schema: StepOptions["schema"], stored: Json | null) =>
    Effect.gen(function*() {
      if (!schema) return stored
      const decoded = yield* PayloadSchema.validate(schema, stored)
      if (decoded._tag === "Invalid") {
        return yield* new InvalidStep({ name, problem: `stored result no longer matches its schema: ${PayloadSchema.describe(decoded.issues)}` })
      }
      return decoded.value
    })

  const step: JobContext["step"] = (name, work, options = {}) =>
    // a child span of the attempt's when traced (see Telemetry)
    Telemetry.step(name, Effect.gen(function*() {
      const { key, prior } = yield* place(name)
      if (prior?.status === "completed") return (yield* replay(name, options.schema, prior.result)) as never
      const policy = options.retry ?? RetryPolicy.none
      const timeout = options.timeout
      const timed = timeout === undefined ? work : work.pipe(
        Effect.timeoutOrElse({
          duration: timeout,
          orElse: () => Effect.fail(new StepTimeout({ name, afterMs: Duration.toMillis(Duration.fromInputUnsafe(timeout)) }))
        })
      )
      for (let tries = 1;; tries++) {
        yield* holder(store.stepStarted(lease, key))
        const exit = yield* Effect.exit(timed)
        if (Exit.isSuccess(exit)) {
          // a result that cannot be stored: the step is recorded failed with the reason, no result
          const stored = yield* encode(name, options.schema, exit.value).pipe(
            Effect.tapError((e) => holder(store.stepFailed(lease, key, e.message)))
          )
          yield* holder(store.stepCompleted(lease, key, stored))
          return exit.value
        }
        if (Cause.hasInterruptsOnly(exit.cause)) return yield* Effect.failCause(exit.cause)
        yield* holder(store.stepFailed(lease, key, errorText(exit.cause)))
        const delay = isFatalCause(exit.cause)
          ? Option.none<Duration.Duration>()
          : yield* RetryPolicy.delayBefore(policy, tries, `${job.id}:${name}:${tries}`)
        if (Option.isNone(delay)) return yield* Effect.failCause(exit.cause)
        yield* Effect.sleep(delay.value)
      }
    }))

  const sleep: JobContext["sleep"] = (duration) =>
    Effect.gen(function*() {
      const { key, prior } = yield* place(`sleep#${++sleeps}`).pipe(Effect.orDie)
      if (prior?.status === "completed") return
      const now = yield* Clock.currentTimeMillis
      const until = new Date(now + Math.max(0, Duration.toMillis(Duration.fromInputUnsafe(duration))))
      yield* holder(store.sleep(lease, key, until)).pipe(Effect.orDie)
      return yield* Effect.die(new Sleeping(until))
    })

  return { step, sleep }
}
