/**
 * How the console's handlers answer: the store's result as `{ status, body }`
 * and its failures as the HTTP contract's errors (`{ error: { code, message,
 * details } }`): 404, 409, 400 for input the store cannot hold, 503 for a
 * store that is down; none carries a path or a stack.
 *
 * @since 0.2.0
 */
import { Cause, Data, Effect, Exit, Option } from "effect"
import type { AdminStore, InvalidTransition, Issue, JobNotFound, JobStatus, StoreError } from "@jobtrack/core"
import type { ConsoleAction } from "../ConsoleInput.js"
import { error } from "../HttpError.js"
import type { HttpResponse } from "../HttpError.js"

/** A request's query string. */
export type Query = Readonly<Record<string, string | undefined>>

/**
 * The action does not apply to the job in its status (e.g. run now on a completed job).
 *
 * @since 0.2.0
 * @category errors
 */
export class NotApplicable extends Data.TaggedError("NotApplicable")<{
  readonly action: ConsoleAction
  readonly status: JobStatus
}> {}

/** What a handler's store calls may fail with. */
export type ApiError = JobNotFound | InvalidTransition | NotApplicable | StoreError

const failure = (cause: Cause.Cause<ApiError>): HttpResponse => {
  const found = Cause.findErrorOption(cause)
  if (Option.isNone(found)) {
    if (!Cause.hasInterruptsOnly(cause)) console.error("jobtrack console: unexpected failure", Cause.pretty(cause))
    return error(503, "store_unavailable", "the job store could not answer")
  }
  const e = found.value
  switch (e._tag) {
    case "JobNotFound":
      return error(404, "not_found", "job not found")
    case "InvalidTransition":
    case "NotApplicable":
      return error(409, "invalid_transition", `cannot ${e.action} a ${e.status} job`, { status: e.status, action: e.action })
    case "StoreError":
      if (e.failure === "rejected") return error(400, "invalid_input", "the job store cannot hold this input")
      if (e.failure === "internal") console.error("jobtrack console: store failure", e.reason)
      return error(503, "store_unavailable", "the job store could not answer")
  }
}

/** Run the store's calls: their result as `ok` answers it, their failure as an HTTP error. */
export const run = async <A>(effect: Effect.Effect<A, ApiError>, ok: (a: A) => HttpResponse): Promise<HttpResponse> => {
  const exit = await Effect.runPromiseExit(effect)
  return Exit.isSuccess(exit) ? ok(exit.value) : failure(exit.cause)
}

/** A 400 naming every problem. */
export const invalid = (issues: ReadonlyArray<Issue>) => error(400, "invalid_input", "invalid request", { issues })

/** A request body that is a JSON object, or undefined. */
export const asInput = (body: unknown): Readonly<Record<string, unknown>> | undefined =>
  typeof body === "object" && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : undefined

/** The permission an action needs. */
export const actionName = (a: AdminStore.AdminAction): ConsoleAction => a._tag
