/**
 * Cron schedules: a job of a definition, with a fixed payload, enqueued at
 * every tick of a cron expression. Expressions and time zones are parsed by
 * Effect's `Cron` (5 fields, or 6 with seconds first), so DST gaps and
 * overlaps follow its rules. This module checks and parses the
 * configuration; `Scheduler` fires the ticks, the store makes each tick one
 * job across every process (`ScheduleStore`).
 *
 * @example
 * ```ts
 * const nightly = JobSchedule.make({
 *   name: "prune-exports",
 *   cron: "0 3 * * *",
 *   timeZone: "Europe/Berlin",
 *   definition: pruneExports,
 *   payload: { olderThanDays: 30 }
 * })
 * const jobs = Jobtrack.make({ store, definitions: [pruneExports], schedules: [nightly] })
 * ```
 * @since 0.2.0
 */
import { Cron, Data, Duration, Effect, Exit, Option, Result } from "effect"
import type { Json, NewJob } from "./Job.js"
import type * as JobDefinition from "./JobDefinition.js"
import type { Issue } from "./JobError.js"
import * as JobId from "./JobId.js"
import * as PayloadSchema from "./PayloadSchema.js"
import * as Storable from "./Storable.js"

/**
 * What to do with ticks no process fired in time (every process was down):
 * `"skip"` passes them over; `"runOnce"` enqueues one job for all of them.
 *
 * @since 0.2.0
 * @category models
 */
export type MissedPolicy = "skip" | "runOnce"

/**
 * One schedule as configured.
 *
 * @since 0.2.0
 * @category models
 */
export interface JobSchedule<P extends JobDefinition.Codec = JobDefinition.Codec> {
  /** Unique among the schedules; 1–200 characters. The store keeps its state under it. */
  readonly name: string
  /** 5 fields (minute hour day month weekday) or 6 with seconds first, e.g. "*\/5 * * * *". */
  readonly cron: string
  /** IANA time zone the expression is read in (default "UTC"). */
  readonly timeZone?: string | undefined
  readonly definition: JobDefinition.JobDefinition<P, JobDefinition.Codec, unknown, unknown>
  /** Validated by the definition's schema when the schedule is made. */
  readonly payload: PayloadSchema.Input<P>
  /** Owner of the jobs it enqueues (default none); owner-scoped reads and routes check it. */
  readonly owner?: string | undefined
  /** Ticks missed while every process was down: see {@link MissedPolicy} (default "skip"). */
  readonly missed?: MissedPolicy | undefined
  /**
   * How late a tick may still fire as itself (default 1 minute). A tick older
   * than this when a process sees it counts as missed.
   */
  readonly missedAfter?: Duration.Input | undefined
}

/**
 * Any schedule, whatever its definition's payload type.
 *
 * @since 0.2.0
 * @category models
 */
export interface Any {
  readonly name: string
  readonly cron: string
  readonly timeZone?: string | undefined
  readonly definition: JobDefinition.Any
  readonly payload: unknown
  readonly owner?: string | undefined
  readonly missed?: MissedPolicy | undefined
  readonly missedAfter?: Duration.Input | undefined
}

/**
 * A schedule whose payload is typed by its definition (the same object, checked by the compiler).
 *
 * @example
 * ```ts
 * JobSchedule.make({ name: "refetch", cron: "0 * * * *", definition: refetch, payload: { all: true } })
 * ```
 * @since 0.2.0
 * @category constructors
 */
export const make = <P extends JobDefinition.Codec, A extends JobDefinition.Codec, E, R>(
  schedule: Omit<JobSchedule<P>, "definition"> & { readonly definition: JobDefinition.JobDefinition<P, A, E, R> }
): Any => schedule as unknown as Any

/**
 * The schedules' configuration is invalid: every problem, each with its path
 * (`[index, field]`). Nothing was started.
 *
 * @since 0.2.0
 * @category errors
 */
export class InvalidSchedules extends Data.TaggedError("InvalidSchedules")<{ readonly issues: ReadonlyArray<Issue> }> {
  override get message() {
    return `invalid schedules: ${this.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`
  }
}

/**
 * A checked schedule, ready to fire.
 *
 * @since 0.2.0
 * @category models
 */
export interface Parsed {
  readonly name: string
  readonly expression: string
  readonly timeZone: string
  readonly cron: Cron.Cron
  readonly type: string
  readonly queue: string
  readonly owner: string | null
  readonly missed: MissedPolicy
  readonly missedAfterMs: number
  readonly definition: JobDefinition.Any
  /** The payload in its stored (JSON) form. */
  readonly payload: Json
  readonly groupKey: string | null
}

/** An IANA time zone this runtime knows (as `DateTime.zoneMakeNamed` checks it, without loading DateTime). */
const isTimeZone = (zone: string): boolean => {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone })
    return true
  } catch {
    return false
  }
}

const checkOne = (
  s: Any,
  i: number,
  known: ReadonlySet<string> | undefined
): Effect.Effect<{ readonly issues: ReadonlyArray<Issue>; readonly parsed?: Parsed }> =>
  Effect.gen(function*() {
    const issues: Array<Issue> = []
    const at = (field: string, message: string) => issues.push({ path: [i, field], message })
    if (typeof s !== "object" || s === null) {
      return { issues: [{ path: [i], message: "Expected a schedule object" }] }
    }
    if (typeof s.name !== "string" || s.name.length === 0 || s.name.length > 200) {
      at("name", "Expected a non-empty string of at most 200 characters")
    } else {
      const problem = Storable.textProblem(s.name)
      if (problem) at("name", problem)
    }
    const timeZone = s.timeZone ?? "UTC"
    const zoneOk = typeof timeZone === "string" && isTimeZone(timeZone)
    if (!zoneOk) at("timeZone", `Unknown IANA time zone "${String(timeZone)}"`)
    let cron: Cron.Cron | undefined
    if (typeof s.cron !== "string") at("cron", "Expected a cron expression string")
    else {
      const r = Cron.parse(s.cron, zoneOk ? timeZone : "UTC")
      if (Result.isFailure(r)) at("cron", `Invalid cron expression "${s.cron}": ${r.failure.message}`)
      else cron = r.success
    }
    if (s.missed !== undefined && s.missed !== "skip" && s.missed !== "runOnce") {
      at("missed", `Expected "skip" or "runOnce"`)
    }
    const missedAfter = s.missedAfter === undefined ? Option.some(Duration.minutes(1)) : Duration.fromInput(s.missedAfter)
    if (Option.isNone(missedAfter) || Duration.toMillis(missedAfter.value) <= 0) at("missedAfter", "Expected a positive duration")
    if (s.owner !== undefined) {
      const problem = typeof s.owner !== "string" || s.owner.length === 0 || s.owner.length > 256
        ? "Expected a non-empty string of at most 256 characters"
        : Storable.textProblem(s.owner)
      if (problem) at("owner", problem)
    }
    const def = s.definition
    if (typeof def !== "object" || def === null || typeof def.type !== "string") {
      at("definition", "Expected a job definition")
      return { issues }
    }
    if (known !== undefined && !known.has(def.type)) {
      at("definition", `The job type "${def.type}" is not among the definitions`)
    }
    const validated = yield* PayloadSchema.validate(def.payload, s.payload, [i, "payload"])
    if (validated._tag === "Invalid") issues.push(...validated.issues)
    else issues.push(...Storable.jsonIssues(validated.stored, [i, "payload"]))
    if (issues.length > 0 || validated._tag === "Invalid" || !cron || Option.isNone(missedAfter)) return { issues }
    const owner = s.owner ?? null
    return {
      issues,
      parsed: {
        name: s.name,
        expression: s.cron,
        timeZone,
        cron,
        type: def.type,
        queue: def.queue,
        owner,
        missed: s.missed ?? "skip",
        missedAfterMs: Duration.toMillis(missedAfter.value),
        definition: def,
        payload: validated.stored as Json,
        groupKey: def.group ? def.group.key(validated.value, { owner, key: null }) : null
      }
    }
  })

/**
 * Check every schedule: names unique and well-formed, cron expressions and time
 * zones parsed by `Cron`, payloads valid for their definitions (and, when
 * `definitions` is given, the definitions among them). Fails with every problem.
 *
 * @since 0.2.0
 * @category validation
 */
export const parse = (
  schedules: ReadonlyArray<Any>,
  definitions?: ReadonlyArray<JobDefinition.Any>
): Effect.Effect<ReadonlyArray<Parsed>, InvalidSchedules> =>
  Effect.gen(function*() {
    const known = definitions ? new Set(definitions.map((d) => d.type)) : undefined
    const checked = yield* Effect.forEach(schedules, (s, i) => checkOne(s, i, known))
    const issues = checked.flatMap((c) => c.issues)
    const seen = new Map<string, number>()
    schedules.forEach((s, i) => {
      if (typeof s?.name !== "string") return
      const first = seen.get(s.name)
      if (first === undefined) seen.set(s.name, i)
      else issues.push({ path: [i, "name"], message: `Duplicate schedule name "${s.name}" (also at ${first})` })
    })
    if (issues.length > 0) return yield* new InvalidSchedules({ issues })
    return checked.map((c) => c.parsed!)
  })

/**
 * {@link parse} without waiting: the answer when every payload schema validates
 * synchronously; `undefined` when one is asynchronous (validate with `parse`).
 * Throws `InvalidSchedules`.
 *
 * @since 0.2.0
 * @category validation
 */
export const parseSync = (
  schedules: ReadonlyArray<Any>,
  definitions?: ReadonlyArray<JobDefinition.Any>
): ReadonlyArray<Parsed> | undefined => {
  const exit = Effect.runSyncExit(parse(schedules, definitions))
  if (Exit.isSuccess(exit)) return exit.value
  const failure = exit.cause.reasons.find((r) => r._tag === "Fail")
  if (failure?._tag === "Fail") throw failure.error
  return undefined
}

/**
 * The next `count` ticks strictly after `after`.
 *
 * @since 0.2.0
 * @category scheduling
 */
export const nextRuns = (schedule: Parsed, after: Date, count: number): ReadonlyArray<Date> => {
  const out: Array<Date> = []
  const it = Cron.sequence(schedule.cron, after)
  for (let n = 0; n < count; n++) {
    const r = it.next()
    if (r.done) break
    out.push(r.value)
  }
  return out
}

/**
 * The ticks strictly after `after`, lazily, in order.
 *
 * @since 0.2.0
 * @category scheduling
 */
export const ticksAfter = (schedule: Parsed, after: Date): IterableIterator<Date> => Cron.sequence(schedule.cron, after)

/**
 * The latest tick at or before `at`.
 *
 * @since 0.2.0
 * @category scheduling
 */
export const latestAtOrBefore = (schedule: Parsed, at: Date): Date => Cron.prev(schedule.cron, new Date(at.getTime() + 1))

/**
 * The job a tick enqueues: the schedule's payload, owner and definition, to run at once.
 *
 * @since 0.2.0
 * @category constructors
 */
export const newJob = (schedule: Parsed, now: Date): NewJob => ({
  id: JobId.make(),
  type: schedule.type,
  queue: schedule.queue,
  payload: schedule.payload,
  maxAttempts: schedule.definition.retry.maxRetries + 1,
  priority: schedule.definition.priority,
  runAt: now,
  owner: schedule.owner,
  key: null,
  groupKey: schedule.groupKey,
  groupLimit: schedule.definition.group ? schedule.definition.group.limit : null
})
