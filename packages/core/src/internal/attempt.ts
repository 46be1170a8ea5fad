/**
 * One attempt of a job, as the runner runs it: validate the stored payload,
 * call the handler, validate its result, under the definition's timeout; and
 * what the runner needs to judge its failure (its text, whether it is fatal).
 */
import { Cause, Duration, Effect, Option, Schema } from "effect"
import type { Json } from "../Job.js"
import type { JobContext } from "../JobContext.js"
import type * as JobDefinition from "../JobDefinition.js"
import { FatalError, isFatal, JobTimeout } from "../JobError.js"
import * as PayloadSchema from "../PayloadSchema.js"
import type { LazyAbort } from "./runner/lazyAbort.js"
import * as Storable from "../Storable.js"

/** The text stored as a failed attempt's error (storable in every store). */
export const errorText = (cause: Cause.Cause<unknown>): string => Storable.storableText(rawErrorText(cause))

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
 * The stored payload as the handler receives it. An Effect Schema is only
 * decoded (the enqueue already stored its encoded form), synchronously when it
 * can be; anything else, and any invalid payload (for its issues), goes
 * through `PayloadSchema.validate`.
 */
const decodePayload = (schema: PayloadSchema.PayloadSchema, payload: unknown): Effect.Effect<PayloadSchema.Validated> => {
  if (PayloadSchema.isCodec(schema)) {
    try {
      const decoded = Schema.decodeUnknownResult(schema)(payload)
      if (decoded._tag === "Success") return Effect.succeed({ _tag: "Valid", value: decoded.success, stored: payload })
    } catch {
      // a schema with asynchronous parts: validated below
    }
  }
  return PayloadSchema.validate(schema, payload)
}

/**
 * The attempt's effect. `abort` is aborted whenever the attempt is
 * interrupted: by the runner (cancel, shutdown, lease lost: an `AbortError`)
 * or by the timeout (a `TimeoutError`), so Promise code stops too.
 */
export const make = (
  def: JobDefinition.Any,
  payload: unknown,
  context: JobContext,
  abort: LazyAbort,
  stoppedByRunner: () => boolean
): Effect.Effect<Json, unknown, unknown> => {
  const attempt = Effect.gen(function*() {
    const decoded = yield* decodePayload(def.payload, payload)
    if (decoded._tag === "Invalid") {
      return yield* new FatalError({ message: `payload no longer matches its schema: ${PayloadSchema.describe(decoded.issues)}` })
    }
    const value = yield* def.handler(decoded.value, context)
    const result = yield* PayloadSchema.validateResult(def.result, value)
    if (result._tag === "Invalid") {
      return yield* new FatalError({ message: `result does not match its schema: ${PayloadSchema.describe(result.issues)}` })
    }
    const unstorable = Storable.jsonIssues(result.stored, ["result"])
    if (unstorable.length > 0) {
      return yield* new FatalError({ message: `result cannot be stored: ${PayloadSchema.describe(unstorable)}` })
    }
    return result.stored as Json
  }).pipe(
    Effect.onInterrupt(() =>
      Effect.sync(() => {
        if (abort.isAborted) return
        abort.abort(
          stoppedByRunner()
            ? new DOMException("The job attempt was stopped", "AbortError")
            : new DOMException("The job attempt timed out", "TimeoutError")
        )
      })
    )
  )
  const timeout = def.timeout
  if (timeout === undefined) return attempt
  return attempt.pipe(
    Effect.timeoutOrElse({
      duration: timeout,
      orElse: () => Effect.fail(new JobTimeout({ afterMs: Duration.toMillis(timeout) }))
    })
  )
}
