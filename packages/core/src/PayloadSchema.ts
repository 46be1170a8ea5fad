/**
 * The schemas a job definition accepts for its payload and result: an Effect
 * Schema, or anything implementing Standard Schema V1 (Zod, Valibot,
 * ArkType…). Both kinds validate through {@link validate}, which reports every
 * issue with its path, and may be asynchronous (async refinements work).
 *
 * What is stored: an Effect Schema value is stored in its encoded (JSON) form
 * and decoded again at run time. A Standard Schema cannot encode, so the input
 * as given (it must be JSON) is stored and validated again at run time: a
 * transform runs on both sides of the queue the same way.
 *
 * @since 0.2.0
 */
import { Effect } from "effect"
import type { Schema } from "effect"
import type { StandardSchemaV1 } from "effect/StandardSchema"
import * as EffectSchema from "./internal/effectSchema.js"
import type { Issue } from "./JobError.js"

/**
 * An Effect Schema that decodes without services.
 *
 * @since 0.2.0
 * @category models
 */
export type Codec = Schema.Codec<unknown, unknown, never, never>

/**
 * A Standard Schema V1 (Zod 3.24+/4, Valibot 1, ArkType 2…).
 *
 * @since 0.2.0
 * @category models
 */
export type Standard = StandardSchemaV1<unknown, unknown>

/**
 * Either kind of schema.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { z } from "zod"
 * import type { PayloadSchema } from "@jobtrack/core"
 *
 * const a: PayloadSchema.PayloadSchema = Schema.Struct({ fileUrl: Schema.String })
 * const b: PayloadSchema.PayloadSchema = z.object({ fileUrl: z.url() })
 * ```
 * @since 0.2.0
 * @category models
 */
export type PayloadSchema = Codec | Standard

/**
 * The value a handler receives (the decoded/validated type).
 *
 * @since 0.2.0
 * @category models
 */
export type Type<S> = S extends Codec ? S["Type"] : S extends Standard ? StandardSchemaV1.InferOutput<S> : never

/**
 * The value a caller passes to `enqueue` (the encoded/input type).
 *
 * @since 0.2.0
 * @category models
 */
export type Input<S> = S extends Codec ? S["Encoded"] : S extends Standard ? StandardSchemaV1.InferInput<S> : never

/**
 * What a handler returns for a result schema: the decoded type of an Effect
 * Schema (it is encoded for storage), the input type of a Standard Schema (it
 * is validated and stored as is).
 *
 * @since 0.2.0
 * @category models
 */
export type ResultValue<S> = S extends Codec ? S["Type"] : S extends Standard ? StandardSchemaV1.InferInput<S> : never

/**
 * The outcome of {@link validate}.
 *
 * @since 0.2.0
 * @category models
 */
export type Validated =
  | {
    readonly _tag: "Valid"
    /** What the handler (or a group key function) sees. */
    readonly value: unknown
    /** What is stored. */
    readonly stored: unknown
  }
  | { readonly _tag: "Invalid"; readonly issues: ReadonlyArray<Issue> }

/**
 * A result schema that accepts any value and stores it as it is: a job
 * definition's result when it names none (what `Schema.Unknown` does, without
 * loading effect's Schema module).
 *
 * @since 0.2.0
 * @category models
 */
export type Unknown = StandardSchemaV1<unknown, unknown>

/**
 * The {@link Unknown} schema.
 *
 * @example
 * ```ts
 * import { PayloadSchema } from "@jobtrack/core"
 *
 * PayloadSchema.unknown["~standard"].validate({ any: "thing" }) // { value: { any: "thing" } }
 * ```
 * @since 0.2.0
 * @category constructors
 */
export const unknown: Unknown = {
  "~standard": { version: 1, vendor: "jobtrack", validate: (value) => ({ value }) }
}

/**
 * Whether a schema is an Effect Schema (else it is a Standard Schema).
 *
 * @since 0.2.0
 * @category guards
 */
export const isCodec = (schema: PayloadSchema): schema is Codec => EffectSchema.isSchema(schema)

/**
 * Whether a value is a Standard Schema V1.
 *
 * @since 0.2.0
 * @category guards
 */
export const isStandard = (u: unknown): u is Standard =>
  (typeof u === "object" || typeof u === "function") && u !== null && "~standard" in u &&
  typeof (u as Standard)["~standard"]?.validate === "function"

/** Effect Schema's issue formatter, made once its module is loaded. */
let formatter: ((issue: unknown) => StandardSchemaV1.FailureResult) | undefined
const formatIssues = (m: EffectSchema.Modules, issue: unknown) =>
  (formatter ??= m.SchemaIssue.makeFormatterStandardSchemaV1() as (issue: unknown) => StandardSchemaV1.FailureResult)(issue)

const segment = (p: PropertyKey | StandardSchemaV1.PathSegment): string | number => {
  const key = typeof p === "object" && p !== null && "key" in p ? p.key : p
  return typeof key === "number" ? key : String(key)
}

const fromStandard = (issues: ReadonlyArray<StandardSchemaV1.Issue>, prefix: ReadonlyArray<string | number>) =>
  issues.map((i): Issue => ({ path: [...prefix, ...(i.path ?? []).map(segment)], message: i.message }))

const codecIssues = (m: EffectSchema.Modules, error: unknown, prefix: ReadonlyArray<string | number>): ReadonlyArray<Issue> =>
  m.Schema.isSchemaError(error)
    ? fromStandard(formatIssues(m, error.issue).issues, prefix)
    : [{ path: [...prefix], message: "could not be validated" }]

/**
 * Validate `input` against a schema, collecting every issue (paths prefixed
 * with `prefix`). Never fails: a validator that throws is reported as an issue
 * without its text (it may hold internals).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { z } from "zod"
 * import { PayloadSchema } from "@jobtrack/core"
 *
 * const outcome = await Effect.runPromise(PayloadSchema.validate(z.object({ n: z.number() }), { n: "x" }))
 * // { _tag: "Invalid", issues: [{ path: ["n"], message: "Invalid input: expected number, received string" }] }
 * ```
 * @since 0.2.0
 * @category validation
 */
export const validate = (
  schema: PayloadSchema,
  input: unknown,
  prefix: ReadonlyArray<string | number> = []
): Effect.Effect<Validated> => {
  if (isCodec(schema)) {
    // the synchronous path first: what every Effect Schema without asynchronous parts takes,
    // at the cost the tracker had before Standard Schemas were accepted
    return Effect.suspend(() => {
      const now = validateCodecSync(schema, input, prefix)
      return now === undefined ? validateCodecAsync(schema, input, prefix) : Effect.succeed(now)
    })
  }
  return Effect.suspend(() => {
    const result = schema["~standard"].validate(input)
    return result instanceof Promise ? Effect.promise(() => result) : Effect.succeed(result)
  }).pipe(
    Effect.map((r): Validated =>
      r.issues === undefined
        ? { _tag: "Valid", value: r.value, stored: input }
        : { _tag: "Invalid", issues: fromStandard(r.issues, prefix) }
    ),
    Effect.catchCause(() =>
      Effect.succeed<Validated>({ _tag: "Invalid", issues: [{ path: [...prefix], message: "could not be validated" }] })
    )
  )
}

const invalid = (issues: ReadonlyArray<Issue>): Validated => ({ _tag: "Invalid", issues })

/**
 * {@link validate} without an Effect, for an Effect Schema without
 * asynchronous parts; `undefined` for any other schema, and until effect's
 * Schema module is loaded (nothing was run: use `validate`, which loads it).
 * What a batch enqueue takes per item when it can.
 *
 * @example
 * ```ts
 * PayloadSchema.validateSync(Schema.Struct({ n: Schema.Number }), { n: 1 })
 * // { _tag: "Valid", value: { n: 1 }, stored: { n: 1 } }
 * ```
 * @since 0.2.0
 * @category validation
 */
export const validateSync = (
  schema: PayloadSchema,
  input: unknown,
  prefix: ReadonlyArray<string | number> = []
): Validated | undefined => (isCodec(schema) ? validateCodecSync(schema, input, prefix) : undefined)

const allErrors = { errors: "all" } as const

/**
 * An Effect Schema decoded and encoded synchronously; `undefined` when it has
 * asynchronous parts, or effect's Schema module is not loaded yet.
 */
const validateCodecSync = (schema: Codec, input: unknown, prefix: ReadonlyArray<string | number>): Validated | undefined => {
  const codec = EffectSchema.syncCodec(schema)
  const m = EffectSchema.loaded()
  if (codec === undefined || m === undefined) return undefined
  try {
    const decoded = codec.decode(input, allErrors)
    if (decoded._tag === "Failure") return invalid(codecIssues(m, decoded.failure, prefix))
    const encoded = codec.encode(decoded.success, allErrors)
    if (encoded._tag === "Failure") return invalid(codecIssues(m, encoded.failure, prefix))
    return { _tag: "Valid", value: decoded.success, stored: encoded.success }
  } catch {
    return undefined
  }
}

/** An Effect Schema with asynchronous parts: decoded and encoded as Effects. */
const validateCodecAsync = (schema: Codec, input: unknown, prefix: ReadonlyArray<string | number>): Effect.Effect<Validated> =>
  Effect.flatMap(EffectSchema.load, (m) =>
    Effect.gen(function*() {
      const value = yield* m.Schema.decodeUnknownEffect(schema)(input, { errors: "all" })
      // stored in its encoded (JSON) form, whatever form the caller gave
      const stored = yield* m.Schema.encodeUnknownEffect(schema)(value, { errors: "all" })
      return { _tag: "Valid", value, stored } as Validated
    }).pipe(
      Effect.catchCause((cause) => {
        const err = cause.reasons.find((r) => r._tag === "Fail")
        return Effect.succeed<Validated>({
          _tag: "Invalid",
          issues: codecIssues(m, err?._tag === "Fail" ? err.error : undefined, prefix)
        })
      })
    ))

/**
 * Validate a handler's result: the stored form is the encoded value (Effect
 * Schema) or the returned value itself (Standard Schema).
 *
 * @since 0.2.0
 * @category validation
 */
export const validateResult = (schema: PayloadSchema, value: unknown): Effect.Effect<Validated> => {
  if (!isCodec(schema)) return validate(schema, value)
  const codec = EffectSchema.syncCodec(schema)
  if (codec !== undefined) {
    try {
      // the synchronous path first (every handler's result goes through here)
      const encoded = codec.encode(value, allErrors)
      if (encoded._tag === "Success") return Effect.succeed({ _tag: "Valid", value, stored: encoded.success })
    } catch {
      // a schema with asynchronous parts: encoded as an Effect below
    }
  }
  return Effect.flatMap(EffectSchema.load, (m) =>
    m.Schema.encodeUnknownEffect(schema)(value, { errors: "all" }).pipe(
      Effect.map((stored): Validated => ({ _tag: "Valid", value, stored })),
      Effect.catchCause((cause) => {
        const err = cause.reasons.find((r) => r._tag === "Fail")
        return Effect.succeed<Validated>({ _tag: "Invalid", issues: codecIssues(m, err?._tag === "Fail" ? err.error : undefined, []) })
      })
    ))
}

/**
 * Issues as one line: `path: message; …`.
 *
 * @since 0.2.0
 * @category formatting
 */
export const describe = (issues: ReadonlyArray<Issue>): string =>
  issues.map((i) => `${i.path.length ? i.path.join(".") : "(root)"}: ${i.message}`).join("; ")
