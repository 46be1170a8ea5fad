/**
 * A job definition binds a job type to its payload and result Schemas, its
 * retry policy, timeout, concurrency group, priority and handler.
 *
 * @since 0.1.0
 */
import { Duration } from "effect"
import type { Effect } from "effect"
import type { AsyncJobContext, JobContext } from "./JobContext.js"
import * as PayloadSchema from "./PayloadSchema.js"
import * as RetryPolicy from "./RetryPolicy.js"
import { InvalidOptions } from "./JobError.js"
import { fromAsync } from "./internal/asyncHandler.js"
import * as Check from "./internal/options.js"
import * as EffectSchema from "./internal/effectSchema.js"

/**
 * A schema payloads and results may use: an Effect Schema that decodes
 * without services, or any Standard Schema V1 (Zod, Valibot, ArkType…).
 *
 * @since 0.1.0
 * @category models
 */
export type Codec = PayloadSchema.PayloadSchema

/**
 * A concurrency group: at most `limit` jobs with the same key are processing
 * at once, across every runner sharing the store.
 *
 * @since 0.1.0
 * @category models
 */
export interface Group<P> {
  /** The group key for a job, e.g. its owner. `null` puts the job in no group. */
  key(payload: P, job: { readonly owner: string | null; readonly key: string | null }): string | null
  readonly limit: number
}

/**
 * @since 0.1.0
 * @category models
 */
export interface JobDefinition<Payload extends Codec, Result extends Codec, E = never, R = never> {
  readonly type: string
  readonly queue: string
  readonly payload: Payload
  readonly result: Result
  readonly retry: RetryPolicy.RetryPolicy
  /** Each attempt is interrupted after this long and counts as failed. */
  readonly timeout: Duration.Duration | undefined
  readonly group: Group<PayloadSchema.Type<Payload>> | undefined
  readonly priority: number
  /** The handler as an Effect (an async `run` is adapted to this form). */
  handler(payload: PayloadSchema.Type<Payload>, context: JobContext): Effect.Effect<PayloadSchema.ResultValue<Result>, E, R>
}

/**
 * Any definition, whatever its types.
 *
 * @since 0.1.0
 * @category models
 */
export type Any = JobDefinition<Codec, Codec, unknown, unknown>

/**
 * The services the handlers of a set of definitions need.
 *
 * @since 0.1.0
 * @category models
 */
export type Services<D> = D extends JobDefinition<Codec, Codec, unknown, infer R> ? R : never

/**
 * The options shared by both handler styles.
 *
 * @since 0.2.0
 * @category models
 */
export interface CommonOptions<Payload extends Codec, Result extends Codec> {
  readonly type: string
  readonly queue?: string
  readonly payload: Payload
  readonly result?: Result
  readonly retry?: RetryPolicy.RetryPolicy
  /** A positive duration; each attempt is interrupted after it (and `ctx.signal` aborted). */
  readonly timeout?: Duration.Input
  readonly group?: Group<PayloadSchema.Type<Payload>>
  readonly priority?: number
}

/**
 * What {@link make} takes with an Effect handler. Only `type`, `payload` and
 * `handler` are required.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options<Payload extends Codec, Result extends Codec, E, R> extends CommonOptions<Payload, Result> {
  readonly handler: (
    payload: PayloadSchema.Type<Payload>,
    context: JobContext
  ) => Effect.Effect<PayloadSchema.ResultValue<Result>, E, R>
}

/**
 * What {@link make} takes with a plain async handler. Only `type`, `payload`
 * and `run` are required. Throwing `FatalError` (or an error with
 * `fatal: true`) fails the job without retry; any other throw is a failed
 * attempt, retried by the policy, its message kept.
 *
 * @since 0.2.0
 * @category models
 */
export interface AsyncOptions<Payload extends Codec, Result extends Codec> extends CommonOptions<Payload, Result> {
  readonly run: (
    payload: PayloadSchema.Type<Payload>,
    context: AsyncJobContext
  ) => Promise<PayloadSchema.ResultValue<Result>> | PayloadSchema.ResultValue<Result>
}

/** Every option of `Options` and `AsyncOptions` (`handler` or `run`). */
const optionNames = Check.names<Options<Codec, Codec, unknown, unknown> & AsyncOptions<Codec, Codec>>({
  type: true,
  queue: true,
  payload: true,
  result: true,
  retry: true,
  timeout: true,
  group: true,
  priority: true,
  handler: true,
  run: true
})

const checkOptions = (options: unknown): InvalidOptions | undefined => {
  const c = Check.checker()
  if (!Check.isRecord(options)) {
    Check.add(c, undefined, `must be an object (got ${Check.show(options)})`)
    return new InvalidOptions({ of: "job definition", issues: c.issues })
  }
  const name = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/
  if (!(typeof options.type === "string" && name.test(options.type))) {
    Check.add(c, "type", `must be 1-100 letters, digits, ".", "_", ":" or "-" (got ${Check.show(options.type)})`)
  }
  // a queue was any string before 0.2.0 (stored jobs keep theirs): only what no store can hold is refused
  // eslint-disable-next-line no-control-regex
  const queue = /^[^\u0000-\u001f\u007f]{1,200}$/
  if (options.queue !== undefined && !(typeof options.queue === "string" && queue.test(options.queue))) {
    Check.add(c, "queue", `must be 1-200 characters, no control characters (got ${Check.show(options.queue)})`)
  }
  const schema = "an Effect Schema or a Standard Schema (Zod, Valibot, ArkType…)"
  if (!EffectSchema.isSchema(options.payload) && !PayloadSchema.isStandard(options.payload)) {
    Check.add(c, "payload", `must be ${schema} (got ${Check.show(options.payload)})`)
  }
  if (options.result !== undefined && !EffectSchema.isSchema(options.result) && !PayloadSchema.isStandard(options.result)) {
    Check.add(c, "result", `must be ${schema} (got ${Check.show(options.result)})`)
  }
  if (options.retry !== undefined) Check.retryPolicy(c, "retry", options.retry)
  Check.optionalDuration(c, "timeout", options.timeout)
  const group = options.group
  if (group !== undefined) {
    if (!Check.isRecord(group)) Check.add(c, "group", `must be { key, limit } (got ${Check.show(group)})`)
    else {
      if (typeof group.key !== "function") Check.add(Check.under(c, "group"), "key", `must be a function (got ${Check.show(group.key)})`)
      Check.integer(Check.under(c, "group"), "limit", group.limit, 1)
      Check.unknownKeys(Check.under(c, "group"), group, ["key", "limit"])
    }
  }
  Check.optionalInteger(c, "priority", options.priority, -1000, 1000)
  Check.unknownKeys(c, options, optionNames)
  const hasHandler = typeof options.handler === "function"
  const hasRun = typeof options.run === "function"
  if (hasHandler === hasRun) {
    Check.add(c, hasHandler ? undefined : "run", "give exactly one of handler (an Effect) or run (an async function)")
  }
  if (c.issues.length === 0) return undefined
  const of = typeof options.type === "string" ? `job definition "${options.type.slice(0, 100)}"` : "job definition"
  return new InvalidOptions({ of, issues: c.issues })
}

/**
 * Define a job type, with an Effect `handler` or a plain async `run`.
 * Payload and result schemas may be Effect Schemas or Standard Schemas (Zod,
 * Valibot, ArkType). Every option is checked (also those a plain JavaScript
 * caller may get wrong, like a `retry` that is not a `RetryPolicy`): invalid
 * ones throw one `InvalidOptions` naming them all.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { z } from "zod"
 * import { JobDefinition, RetryPolicy } from "@jobtrack/core"
 *
 * export const extractText = JobDefinition.make({
 *   type: "extract-text",
 *   payload: Schema.Struct({ fileUrl: Schema.String }),
 *   result: Schema.Struct({ text: Schema.String }),
 *   retry: RetryPolicy.exponential({ initial: "30 seconds", factor: 4, maxRetries: 3 }),
 *   timeout: "5 minutes",
 *   group: { key: (_, job) => job.owner, limit: 2 },
 *   handler: ({ fileUrl }, ctx) => Effect.gen(function*() {
 *     yield* ctx.progress(50, `Reading ${fileUrl}`)
 *     return { text: "…" }
 *   })
 * })
 *
 * export const resize = JobDefinition.make({
 *   type: "resize",
 *   payload: z.object({ url: z.url(), width: z.number().int().positive() }),
 *   run: async ({ url, width }, ctx) => {
 *     await ctx.progress(50, `Resizing ${url} to ${width}px`)
 *     return { ok: true }
 *   }
 * })
 * ```
 * @since 0.1.0
 * @category constructors
 */
export function make<Payload extends Codec, Result extends Codec = PayloadSchema.Unknown, E = never, R = never>(
  options: Options<Payload, Result, E, R>
): JobDefinition<Payload, Result, E, R>
export function make<Payload extends Codec, Result extends Codec = PayloadSchema.Unknown>(
  options: AsyncOptions<Payload, Result>
): JobDefinition<Payload, Result, unknown, never>
export function make(
  options: Options<Codec, Codec, unknown, unknown> | AsyncOptions<Codec, Codec>
): JobDefinition<Codec, Codec, unknown, unknown> {
  const invalid = checkOptions(options)
  if (invalid) throw invalid
  // effect's Schema module is loaded on first use: start now, so that the first enqueue finds it
  if (PayloadSchema.isCodec(options.payload) || (options.result !== undefined && PayloadSchema.isCodec(options.result))) {
    EffectSchema.preload()
  }
  return {
    type: options.type,
    queue: options.queue ?? "default",
    payload: options.payload,
    result: options.result ?? PayloadSchema.unknown,
    retry: options.retry ?? RetryPolicy.defaultPolicy,
    timeout: options.timeout === undefined ? undefined : Duration.fromInputUnsafe(options.timeout),
    group: options.group,
    priority: options.priority ?? 0,
    handler: "run" in options ? fromAsync(options.run) : options.handler
  }
}
