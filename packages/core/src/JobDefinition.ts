/**
 * A job definition binds a job type to its payload and result Schemas, its
 * retry policy, timeout, concurrency group, priority and handler.
 *
 * @since 0.1.0
 */
import { Duration, Option } from "effect"
import type { Effect } from "effect"
import type { AsyncJobContext, JobContext } from "./JobContext.js"
import * as PayloadSchema from "./PayloadSchema.js"
import * as RetryPolicy from "./RetryPolicy.js"
import { fromAsync } from "./internal/asyncHandler.js"
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

const optionIssues = (options: CommonOptions<Codec, Codec>): Array<string> => {
  const issues: Array<string> = []
  if (!/^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/.test(options.type)) {
    issues.push(`type must be 1-100 letters, digits, ".", "_", ":" or "-"`)
  }
  if (options.group && !(Number.isInteger(options.group.limit) && options.group.limit >= 1)) {
    issues.push("group limit must be a positive integer")
  }
  if (options.timeout !== undefined) {
    const d = Duration.fromInput(options.timeout)
    if (Option.isNone(d) || !(Duration.toMillis(d.value) > 0 && Duration.isFinite(d.value))) {
      issues.push("timeout must be a positive, finite duration (leave it out for none)")
    }
  }
  if (options.priority !== undefined && !(Number.isInteger(options.priority) && Math.abs(options.priority) <= 1000)) {
    issues.push("priority must be an integer between -1000 and 1000")
  }
  return issues
}

/**
 * Define a job type, with an Effect `handler` or a plain async `run`.
 * Payload and result schemas may be Effect Schemas or Standard Schemas (Zod,
 * Valibot, ArkType). Throws a `TypeError` naming every bad option.
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
  const issues = optionIssues(options)
  const hasHandler = "handler" in options && typeof options.handler === "function"
  const hasRun = "run" in options && typeof options.run === "function"
  if (hasHandler === hasRun) issues.push("give exactly one of handler (an Effect) or run (an async function)")
  if (issues.length > 0) throw new TypeError(`job definition "${String(options.type)}": ${issues.join("; ")}`)
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
