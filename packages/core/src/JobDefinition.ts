/**
 * A job definition binds a job type to its payload and result Schemas, its
 * retry policy, timeout, concurrency group, priority and handler.
 *
 * @since 0.1.0
 */
import { Duration, Schema } from "effect"
import type { Effect } from "effect"
import type { JobContext } from "./JobContext.js"
import * as RetryPolicy from "./RetryPolicy.js"

/**
 * A Schema that decodes without services: what payloads and results use.
 *
 * @since 0.1.0
 * @category models
 */
export type Codec = Schema.Codec<unknown, unknown, never, never>

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
  readonly group: Group<Payload["Type"]> | undefined
  readonly priority: number
  handler(payload: Payload["Type"], context: JobContext): Effect.Effect<Result["Type"], E, R>
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
 * What {@link make} takes. Only `type`, `payload` and `handler` are required.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options<Payload extends Codec, Result extends Codec, E, R> {
  readonly type: string
  readonly queue?: string
  readonly payload: Payload
  readonly result?: Result
  readonly retry?: RetryPolicy.RetryPolicy
  readonly timeout?: Duration.Input
  readonly group?: Group<Payload["Type"]>
  readonly priority?: number
  readonly handler: (payload: Payload["Type"], context: JobContext) => Effect.Effect<Result["Type"], E, R>
}

/**
 * Define a job type.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
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
 * ```
 * @since 0.1.0
 * @category constructors
 */
export const make = <Payload extends Codec, Result extends Codec = typeof Schema.Unknown, E = never, R = never>(
  options: Options<Payload, Result, E, R>
): JobDefinition<Payload, Result, E, R> => {
  if (!/^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/.test(options.type)) {
    throw new TypeError(`job type "${options.type}" must be 1-100 letters, digits, ".", "_", ":" or "-"`)
  }
  if (options.group && !(Number.isInteger(options.group.limit) && options.group.limit >= 1)) {
    throw new TypeError(`group limit of "${options.type}" must be a positive integer`)
  }
  return {
    type: options.type,
    queue: options.queue ?? "default",
    payload: options.payload,
    result: (options.result ?? Schema.Unknown) as Result,
    retry: options.retry ?? RetryPolicy.defaultPolicy,
    timeout: options.timeout === undefined ? undefined : Duration.fromInputUnsafe(options.timeout),
    group: options.group,
    priority: options.priority ?? 0,
    handler: options.handler
  }
}
