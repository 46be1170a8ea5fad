/**
 * Awaited results: waiting for a job's terminal state, from any process
 * sharing the store, and turning it into the handler's typed result or the
 * job's error. The wait is `Tracker.watch` (the store's change stream, with
 * polling as the fallback), so nothing here holds a worker or a connection
 * beyond the watch's own.
 *
 * @example
 * ```ts
 * const { job } = yield* tracker.enqueue(extractText, { fileUrl })
 * const { text } = yield* tracker.result(job.id, { definition: extractText }).pipe(
 *   Effect.catchTag("JobFailed", (e) => Effect.succeed({ text: `failed: ${e.message}` }))
 * )
 * ```
 * @since 0.2.0
 */
import { Data, Effect, Option } from "effect"
import type { Stream } from "effect"
import type { AttemptError, JobView, Json } from "./Job.js"
import type * as JobDefinition from "./JobDefinition.js"
import { InvalidInput, JobNotFound } from "./JobError.js"
import type { StoreError } from "./JobError.js"
import * as EffectModules from "./internal/effectModules.js"
import * as PayloadSchema from "./PayloadSchema.js"

/**
 * The awaited job failed: its last error, and every attempt's.
 *
 * @since 0.2.0
 * @category errors
 */
export class JobFailed extends Data.TaggedError("JobFailed")<{
  readonly id: string
  readonly reason: string
  readonly errors: ReadonlyArray<AttemptError>
}> {
  override get message() {
    return `job ${this.id} failed: ${this.reason}`
  }
}

/**
 * The awaited job was cancelled.
 *
 * @since 0.2.0
 * @category errors
 */
export class JobCancelled extends Data.TaggedError("JobCancelled")<{ readonly id: string }> {
  override get message() {
    return `job ${this.id} was cancelled`
  }
}

/**
 * What awaiting a result may fail with. `InvalidInput`: the stored result no
 * longer matches the definition's result schema.
 *
 * @since 0.2.0
 * @category errors
 */
export type ResultError = JobFailed | JobCancelled | JobNotFound | InvalidInput | StoreError

/**
 * @since 0.2.0
 * @category models
 */
export interface ResultOptions {
  /**
   * Only this owner's job (`null`: only a job without one): another owner's
   * job is `JobNotFound`, as if it did not exist.
   */
  readonly owner?: string | null | undefined
}

/**
 * {@link ResultOptions} with the job's definition: the result is decoded by
 * its result schema and typed by it.
 *
 * @since 0.2.0
 * @category models
 */
export interface TypedResultOptions<D> extends ResultOptions {
  readonly definition: D
}

/**
 * The result type of a definition.
 *
 * @since 0.2.0
 * @category models
 */
export type ResultOf<D> = D extends JobDefinition.JobDefinition<JobDefinition.Codec, infer A, infer _E, infer _R>
  ? PayloadSchema.Type<A>
  : never

/**
 * Await the terminal view of `views` (a job's watch) and turn it into the
 * result or the job's error.
 *
 * @since 0.2.0
 * @category constructors
 */
export const fromViews = (
  id: string,
  views: Stream.Stream<JobView, JobNotFound | StoreError>,
  options: ResultOptions & { readonly definition?: JobDefinition.Any | undefined } = {}
): Effect.Effect<unknown, ResultError> =>
  Effect.gen(function*() {
    const owner = options.owner
    const Streams = yield* EffectModules.Stream.load
    const last = yield* views.pipe(
      Streams.mapEffect((v) =>
        owner !== undefined && v.owner !== owner ? Effect.fail(new JobNotFound({ id })) : Effect.succeed(v)
      ),
      Streams.runLast
    )
    if (Option.isNone(last)) return yield* new JobNotFound({ id })
    const view = last.value
    if (view.status === "failed") {
      return yield* new JobFailed({ id, reason: view.errorMessage ?? "failed", errors: view.errors })
    }
    if (view.status === "cancelled") return yield* new JobCancelled({ id })
    const stored: Json | null = view.result
    if (!options.definition) return stored
    const decoded = yield* PayloadSchema.validate(options.definition.result, stored, ["result"])
    if (decoded._tag === "Invalid") return yield* new InvalidInput({ type: view.type, issues: decoded.issues })
    return decoded.value
  })
