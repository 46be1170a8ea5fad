/**
 * One attempt of a job, as the runner runs it: validate the stored payload,
 * call the handler, validate its result, under the definition's timeout; and
 * what the runner needs to judge its failure (its text, whether it is fatal).
 */
import { Cause, Duration, Effect, Option } from "effect"
import type { Exit } from "effect"
import type { Json } from "../Job.js"
import type { JobContext } from "../JobContext.js"
import type * as JobDefinition from "../JobDefinition.js"
import { FatalError, isFatal, JobTimeout, ResultTooLarge } from "../JobError.js"
import type { Issue } from "../JobError.js"
import * as PayloadSchema from "../PayloadSchema.js"
import * as EffectSchema from "./effectSchema.js"
import * as ResultSize from "./resultSize.js"
import type { LazyAbort } from "./runner/lazyAbort.js"
import * as Storable from "../Storable.js"

/**
 * The most a failed attempt's stored error text keeps, in characters: it is
 * in every view and list item of the job (and in its errors, once per
 * attempt), so a handler throwing a megabyte of text must not make every
 * page of jobs a megabyte.
 */
export const maxErrorLength = 4_096

/** The text stored as a failed attempt's error (storable in every store, cut to `maxErrorLength`). */
export const errorText = (cause: Cause.Cause<unknown>): string => {
  const raw = rawErrorText(cause)
  return Storable.storableText(raw.length > maxErrorLength ? `${raw.slice(0, maxErrorLength - 1)}…` : raw)
}

/** The most a failed attempt's stored stack keeps, in characters (the top frames matter most). */
export const maxStackLength = 8_192

/**
 * The stack of the error a failed attempt's cause holds, storable and cut to
 * `maxStackLength`; undefined when it holds no Error with a stack. For the
 * operator console only: it names paths, so never for end users.
 */
export const errorStack = (cause: Cause.Cause<unknown>): string | undefined => {
  const err = Cause.findErrorOption(cause)
  const value = Option.isSome(err) ? err.value : Cause.squash(cause)
  if (!(value instanceof Error) || typeof value.stack !== "string" || value.stack === "") return undefined
  return Storable.storableText(value.stack.slice(0, maxStackLength))
}

const rawErrorText = (cause: Cause.Cause<unknown>): string => {
  const err = Cause.findErrorOption(cause)
  const value = Option.isSome(err) ? err.value : Cause.squash(cause)
  if (value instanceof Error) return value.message || value.name
  if (typeof value === "object" && value !== null && "message" in value && typeof value.message === "string") {
    return value.message
  }
  if (typeof value === "object" && value !== null && "_tag" in value) return String(value._tag)
  return String(value)
}

/**
 * A failure that must not be retried: a FatalError or an error marked fatal,
 * failed or thrown (a defect, e.g. thrown inside `Effect.promise`).
 */
export const isFatalCause = (cause: Cause.Cause<unknown>): boolean =>
  cause.reasons.some((r) => (r._tag === "Fail" && isFatal(r.error)) || (r._tag === "Die" && isFatal(r.defect)))

/**
 * What one definition's attempts share, made at its first attempt: the
 * payload decoder and the result encoder (an Effect Schema's are built once,
 * not per job), and the step from the handler's value to the stored result.
 */
interface Plan {
  /** The payload decoded at once; undefined when it needs `PayloadSchema.validate` (a Standard Schema, an async part, an invalid payload). */
  readonly decode: (payload: unknown) => { readonly value: unknown } | undefined
  /** The handler's value as the stored result, or the attempt's fatal failure. */
  readonly finish: (value: unknown) => Effect.Effect<Json, FatalError>
  /** `finish`, then the size limit: made for the last limit asked for (a runner's), not per attempt. */
  finished: ((value: unknown) => Effect.Effect<Json, FatalError | ResultTooLarge>) | undefined
  finishedLimit: number
}

const plans = new WeakMap<JobDefinition.Any, Plan>()

const planOf = (def: JobDefinition.Any): Plan => {
  let plan = plans.get(def)
  if (plan === undefined) {
    plan = { decode: decoder(def.payload), finish: finisher(def.result), finished: undefined, finishedLimit: 0 }
    plans.set(def, plan)
  }
  return plan
}

/** The results stored as they are, each one Exit made once (a no-op handler's `undefined`, a flag, null). */
const asIs = {
  undefined: Effect.succeed(undefined as unknown as Json),
  null: Effect.succeed(null as Json),
  true: Effect.succeed(true as Json),
  false: Effect.succeed(false as Json)
} as const

/** The handler's value as stored within `limit` bytes: `plan.finish`, then the size check. */
const finishedWithin = (plan: Plan, limit: number): (value: unknown) => Effect.Effect<Json, FatalError | ResultTooLarge> => {
  if (plan.finished !== undefined && plan.finishedLimit === limit) return plan.finished
  const { finish } = plan
  const checked = (value: unknown) => Effect.flatMap(finish(value), (json) => sized(json, limit))
  // the default result schema stores nothing, null and flags as they are: no Effect made per attempt
  const finished = finish === stored
    ? (value: unknown) =>
      value === undefined ? asIs.undefined
      : value === null ? asIs.null
      : value === true ? asIs.true
      : value === false ? asIs.false
      : checked(value)
    : checked
  plan.finished = finished
  plan.finishedLimit = limit
  return finished
}

/**
 * An Effect Schema is only decoded (the enqueue already stored its encoded
 * form), synchronously when it can be.
 */
const decoder = (schema: PayloadSchema.PayloadSchema): Plan["decode"] => {
  if (!PayloadSchema.isCodec(schema)) return () => undefined
  // built once effect's Schema module is loaded (until then: the slower path)
  let decode: EffectSchema.SyncCodec["decode"] | undefined
  return (payload) => {
    decode ??= EffectSchema.syncCodec(schema)?.decode
    if (decode === undefined) return undefined
    try {
      const decoded = decode(payload)
      return decoded._tag === "Success" ? { value: decoded.success } : undefined
    } catch {
      // a schema with asynchronous parts: validated by PayloadSchema.validate
      return undefined
    }
  }
}

const allErrors = { errors: "all" } as const

const resultPath = ["result"] as const

const stored = (value: unknown): Effect.Effect<Json, FatalError> => {
  // most results are nothing, or a flag: storable as they are
  if (value === undefined || value === null || typeof value === "boolean") return Effect.succeed(value as Json)
  const unstorable = Storable.jsonIssues(value, resultPath)
  return unstorable.length > 0
    ? Effect.fail(new FatalError({ message: `result cannot be stored: ${PayloadSchema.describe(unstorable)}` }))
    : Effect.succeed(value as Json)
}

/** The result, or `ResultTooLarge` when its JSON is over `limit` bytes (most results: no serializing). */
const sized = (json: Json, limit: number): Effect.Effect<Json, ResultTooLarge> => {
  // nothing, a flag, a number: never near a limit
  if (json === null || typeof json !== "object" && typeof json !== "string") return Effect.succeed(json)
  const over = ResultSize.oversize(json, limit)
  return over === undefined ? Effect.succeed(json) : Effect.fail(new ResultTooLarge({ ...over, limit }))
}

const invalidResult = (issues: ReadonlyArray<Issue>) =>
  Effect.fail(new FatalError({ message: `result does not match its schema: ${PayloadSchema.describe(issues)}` }))

const finisher = (schema: PayloadSchema.PayloadSchema): Plan["finish"] => {
  const validated = (value: unknown) =>
    Effect.flatMap(PayloadSchema.validateResult(schema, value), (result) =>
      result._tag === "Invalid" ? invalidResult(result.issues) : stored(result.stored))
  // the default result schema: its encoding is the value itself
  if (schema === PayloadSchema.unknown) return stored
  if (!PayloadSchema.isCodec(schema)) return validated
  // built once effect's Schema module is loaded (until then: the slower path)
  let encode: EffectSchema.SyncCodec["encode"] | undefined
  return (value) => {
    encode ??= EffectSchema.syncCodec(schema)?.encode
    if (encode === undefined) return validated(value)
    try {
      const encoded = encode(value, allErrors)
      if (encoded._tag === "Success") return stored(encoded.success)
    } catch {
      // a schema with asynchronous parts
    }
    return validated(value)
  }
}

/** The payload as the handler receives it, through `PayloadSchema.validate` (the slower path, with every issue). */
const validatedPayload = (def: JobDefinition.Any, payload: unknown): Effect.Effect<unknown, FatalError> =>
  Effect.flatMap(PayloadSchema.validate(def.payload, payload), (decoded) =>
    decoded._tag === "Invalid"
      ? Effect.fail(new FatalError({ message: `payload no longer matches its schema: ${PayloadSchema.describe(decoded.issues)}` }))
      : Effect.succeed(decoded.value))

/** The reason `abort` is aborted with when the attempt was interrupted. */
const abortReason = (stoppedByRunner: boolean) =>
  stoppedByRunner
    ? new DOMException("The job attempt was stopped", "AbortError")
    : new DOMException("The job attempt timed out", "TimeoutError")

/**
 * Abort the attempt's signal if its fiber ended interrupted (the runner calls
 * this when the fiber of an attempt without a timeout ends; see {@link make}).
 */
export const abortIfInterrupted = (
  exit: Exit.Exit<unknown, unknown>,
  abort: LazyAbort,
  stoppedByRunner: () => boolean
): void => {
  if (exit._tag === "Failure" && !abort.isAborted && Cause.hasInterrupts(exit.cause)) abort.abort(abortReason(stoppedByRunner()))
}

/**
 * The attempt's effect: decode the payload, call the handler, validate and
 * encode its result, under the definition's timeout. `abort` is aborted
 * whenever the attempt is interrupted: by the runner (cancel, shutdown, lease
 * lost: an `AbortError`) or by the timeout (a `TimeoutError`), so Promise code
 * stops too. With a timeout this effect does it itself; without one, the
 * attempt can only be interrupted as a whole, and the caller runs it as a
 * fiber of its own and calls {@link abortIfInterrupted} with the fiber's exit
 * (one wrapper less per job).
 */
export const make = (
  def: JobDefinition.Any,
  payload: unknown,
  context: JobContext,
  abort: LazyAbort,
  stoppedByRunner: () => boolean,
  maxResultBytes: number
): Effect.Effect<Json, unknown, unknown> => {
  const plan = planOf(def)
  const decoded = plan.decode(payload)
  // the result as stored, within the runner's size limit (else nothing is stored: a fatal failure)
  const finished = finishedWithin(plan, maxResultBytes)
  const attempt: Effect.Effect<Json, unknown, unknown> = decoded === undefined
    ? Effect.flatMap(validatedPayload(def, payload), (value) => Effect.flatMap(def.handler(value, context), finished))
    : Effect.suspend(() => Effect.flatMap(def.handler(decoded.value, context), finished))
  const timeout = def.timeout
  if (timeout === undefined) return attempt
  return attempt.pipe(
    Effect.onInterrupt(() =>
      Effect.sync(() => {
        if (!abort.isAborted) abort.abort(abortReason(stoppedByRunner()))
      })
    ),
    Effect.timeoutOrElse({
      duration: timeout,
      orElse: () => Effect.fail(new JobTimeout({ afterMs: Duration.toMillis(timeout) }))
    })
  )
}
