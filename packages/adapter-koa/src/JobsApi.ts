/**
 * The HTTP contract as framework-agnostic handlers: each takes plain values
 * (path params, query, parsed body, the caller) and answers `{ status, body }`.
 * The Koa router is a thin layer over these; another framework's adapter
 * would be too.
 *
 * @since 0.1.0
 */
import { Cause, Data, Effect, Exit, Option } from "effect"
import type { Stream } from "effect"
import { InvalidInput, Job, JobId, JobNotFound, PayloadSchema } from "@jobtrack/core"
import type {
  InvalidTransition,
  Issue,
  JobDefinition,
  JobStatus,
  JobSummaryView,
  JobView,
  StoreError,
  Tracker,
  UnknownJobType
} from "@jobtrack/core"
import { error } from "./HttpError.js"
import type { HttpResponse } from "./HttpError.js"
import * as EventFanout from "./EventFanout.js"
import * as EventStream from "./EventStream.js"
import * as InternalJobs from "./InternalJobs.js"
import { fromLogLine, fromView, listItem } from "./WireView.js"
import type { WireView } from "./WireView.js"

/**
 * A job type that `POST /:type` may enqueue.
 *
 * @since 0.1.0
 * @category models
 */
export interface Exposed {
  readonly definition: JobDefinition.Any
  /**
   * Enqueue options (key, priority…) for a request whose payload the
   * definition's schema accepted, given the decoded payload; the owner is
   * always the caller. A payload the schema refuses is a 400 naming every
   * problem, and `options` is not called. To refuse a request the schema
   * accepted, throw `InvalidInput` (from `@jobtrack/core`): a 400 naming its
   * issues. Any other throw is a bug of the host: the answer is a 500
   * `internal` without its text, which is logged.
   */
  readonly options?: (payload: unknown) => Omit<Tracker.EnqueueOptions, "owner">
}

/**
 * @since 0.1.0
 * @category models
 */
export interface ApiOptions {
  /** Job types `POST /:type` may enqueue (none by default). */
  readonly expose?: ReadonlyArray<JobDefinition.Any | Exposed>
  /**
   * Reshape the wire view, e.g. rename `id` to `extraction_id`. For list
   * items it is given the view without `result` (see `WireView.listItem`)
   * and the job's summary (`JobSummaryView`: no payload, result or errors,
   * which list pages never read, since 0.2.0); for a single job's view, the
   * job whole (`"payload" in job` tells them apart).
   */
  readonly present?: (view: WireView, job: JobView | JobSummaryView) => unknown
  /**
   * How a request for another owner's job is answered: `"not_found"` (default)
   * is the 404 of an unknown id, so a job's existence is never revealed;
   * `"forbidden"` answers 403.
   */
  readonly otherOwner?: "not_found" | "forbidden"
}

/**
 * Who is asking: an owner id, or null for an anonymous caller.
 *
 * @since 0.1.0
 * @category models
 */
export type Caller = string | null

/**
 * @since 0.1.0
 * @category models
 */
export interface EventsResponse {
  readonly status: 200
  /**
   * Frames to write as Server-Sent Events: on a resume, a `resume` frame
   * saying whether events were missed; the current view at once; then one per
   * change, ending after a terminal one (see {@link EventStream}).
   */
  readonly events: Stream.Stream<EventStream.Frame>
  /**
   * The same frames pushed to `sink` by the job's watch shared with every
   * stream of it in the process (one read, one frame and one text per
   * change, written to every stream in one pass): what a server that
   * writes to sockets should use (`jobsRouter` does). Returns the function
   * that leaves; call it when the client goes away.
   *
   * @example
   * ```ts
   * const leave = answer.follow({ frame: (f) => res.write(EventStream.encode(f)), end: () => res.end() })
   * res.once("close", leave)
   * ```
   * @since 0.2.0
   */
  readonly follow: (sink: EventFanout.Sink) => () => void
}

/**
 * @since 0.1.0
 * @category models
 */
/**
 * A request's query: each parameter's value, or its values when it was given
 * more than once (`?status=failed&status=cancelled`).
 *
 * @since 0.2.0
 * @category models
 */
export type Query = Readonly<Record<string, string | ReadonlyArray<string> | undefined>>

/**
 * The query parameters each route reads. Any other is refused: a 400
 * `invalid_input` naming every unknown parameter (and every bad value), so a
 * typo (`?stauts=failed`) is not a silent list of everything (since 0.2.0).
 *
 * @since 0.2.0
 * @category constants
 */
export const queryParameters = {
  list: ["status", "type", "key", "limit", "cursor"],
  stats: ["type"],
  events: ["last_event_id"],
  /** `GET /:id`, `POST /:type`, cancel, retry, `DELETE /:id`. */
  other: []
} as const satisfies Record<string, ReadonlyArray<string>>

/** Parameters a route reads that may be given more than once (their values are joined). */
const repeatable: ReadonlySet<string> = new Set(["status"])

/**
 * The problems of a route's query: each unknown parameter, each known one
 * given more than once (but `status`, a list), as issues.
 */
const queryIssues = (route: keyof typeof queryParameters, query: Query): Array<Issue> => {
  const known: ReadonlyArray<string> = queryParameters[route]
  const issues: Array<Issue> = []
  for (const [name, value] of Object.entries(query)) {
    if (value === undefined) continue
    if (!known.includes(name)) {
      issues.push({
        path: [name],
        message: known.length === 0
          ? "unknown query parameter; this route takes none"
          : `unknown query parameter; the known ones are ${known.join(", ")}`
      })
    } else if (typeof value !== "string" && !repeatable.has(name)) {
      issues.push({ path: [name], message: "given more than once" })
    }
  }
  return issues
}

/** One value of a parameter (`undefined` when absent or given more than once: `queryIssues` says so). */
const one = (value: string | ReadonlyArray<string> | undefined): string | undefined =>
  typeof value === "string" ? value : undefined

/**
 * The 400 for a route's query, or `undefined` when every parameter is one it
 * reads. `list` and `stats` check their own query; a framework adapter calls
 * this for the other routes (`jobsRouter` does).
 *
 * @example
 * ```ts
 * JobsApi.checkQuery("events", { last_event_id: "1764497125120-9f3a01c2" }) // undefined
 * JobsApi.checkQuery("other", { verbose: "1" })
 * // { status: 400, body: { error: { code: "invalid_input", message: "invalid query", details: { issues: [{ path: ["verbose"], … }] } } } }
 * ```
 * @since 0.2.0
 * @category validation
 */
export const checkQuery = (route: keyof typeof queryParameters, query: Query): HttpResponse | undefined => {
  const issues = queryIssues(route, query)
  return issues.length > 0 ? error(400, "invalid_input", "invalid query", { issues }) : undefined
}

export interface JobsApi {
  readonly enqueue: (type: string, body: unknown, caller: Caller) => Promise<HttpResponse>
  /** A query parameter other than `queryParameters.list`'s is a 400 naming it (since 0.2.0). */
  readonly list: (query: Query, caller: Caller) => Promise<HttpResponse>
  readonly get: (id: string, caller: Caller) => Promise<HttpResponse>
  /**
   * `lastEventId`: the `Last-Event-ID` of a reconnecting client. 204 when it
   * is the id of the job's current, terminal state: nothing more will come.
   */
  readonly events: (id: string, caller: Caller, lastEventId?: string) => Promise<HttpResponse | EventsResponse>
  readonly cancel: (id: string, caller: Caller) => Promise<HttpResponse>
  readonly retry: (id: string, caller: Caller) => Promise<HttpResponse>
  readonly remove: (id: string, caller: Caller) => Promise<HttpResponse>
  /** A query parameter other than `type` is a 400 naming it (since 0.2.0). */
  readonly stats: (query: Query, caller: Caller) => Promise<HttpResponse>
}

/**
 * The caller may not touch this job: it belongs to another owner.
 *
 * @since 0.1.0
 * @category errors
 */
export class Forbidden extends Data.TaggedError("Forbidden")<{ readonly id: string }> {}

type ApiError = JobNotFound | InvalidTransition | InvalidInput | UnknownJobType | StoreError | Forbidden

/** Map a tracker failure to the contract's status and code. */
const failure = (cause: Cause.Cause<ApiError>): HttpResponse => {
  const found = Cause.findErrorOption(cause)
  if (Option.isNone(found)) {
    if (!Cause.hasInterruptsOnly(cause)) console.error("jobtrack: unexpected failure", Cause.pretty(cause))
    return error(500, "internal", "internal error")
  }
  const e = found.value
  switch (e._tag) {
    case "JobNotFound":
      return error(404, "not_found", "job not found")
    case "Forbidden":
      return error(403, "forbidden", "this job belongs to another owner")
    case "InvalidTransition":
      return error(409, "invalid_transition", e.message, { status: e.status, action: e.action })
    case "InvalidInput":
      return error(400, "invalid_input", e.message, { issues: e.issues })
    case "UnknownJobType":
      return error(400, "invalid_input", e.message)
    case "StoreError":
      switch (e.failure) {
        case "unavailable":
          return error(503, "store_unavailable", "the job store is unavailable")
        case "rejected":
          return error(400, "invalid_input", "the job store cannot hold this input")
        case "internal":
          console.error("jobtrack: store failure", e.reason)
          return error(500, "internal", "internal error")
      }
  }
}

const statusSet = new Set<string>(Job.statuses)

/**
 * Build the handlers over a tracker.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (tracker: Tracker.TrackerShape, options: ApiOptions = {}): JobsApi => {
  const exposed = new Map<string, Exposed>()
  for (const entry of options.expose ?? []) {
    const e: Exposed = "definition" in entry ? entry : { definition: entry }
    exposed.set(e.definition.type, e)
  }
  const present = (job: JobView) => (options.present ? options.present(fromView(job), job) : fromView(job))
  // a list item carries no result: a page of 500 jobs with 10 MiB results was 5 GB of JSON
  const presentItem = (job: JobSummaryView) =>
    options.present ? options.present(listItem(job), job) : listItem(job)
  // every event stream of a job shares one watch of it
  const fanout = EventFanout.make(tracker, present)

  const run = async <A>(
    effect: Effect.Effect<A, ApiError>,
    ok: (a: A) => HttpResponse
  ): Promise<HttpResponse> => {
    const exit = await Effect.runPromiseExit(effect)
    return Exit.isSuccess(exit) ? ok(exit.value) : failure(exit.cause)
  }

  const forbid = options.otherOwner === "forbidden"
  /**
   * The job if the caller may see it: 404 unknown or malformed; someone else's is 404 too (or 403 if asked).
   * jobtrack's own jobs (the console's) are 404 to everyone, as if they did not exist.
   */
  const owned = (id: string, caller: Caller): Effect.Effect<JobView, ApiError> =>
    JobId.isValid(id)
      ? Effect.flatMap(tracker.get(id), (job) =>
        InternalJobs.isInternal(job)
          ? Effect.fail(new JobNotFound({ id }))
          : job.owner === caller
          ? Effect.succeed(job)
          : Effect.fail(forbid ? new Forbidden({ id }) : new JobNotFound({ id })))
      : Effect.fail(new JobNotFound({ id }))

  const guarded = <A>(
    id: string,
    caller: Caller,
    then: (job: JobView) => Effect.Effect<A, ApiError>,
    ok: (a: A) => HttpResponse
  ) => run(Effect.flatMap(owned(id, caller), then), ok)

  const api: JobsApi = {
    enqueue: (type, body, caller) => {
      const e = exposed.get(type)
      if (!e) return Promise.resolve(error(400, "invalid_input", `job type "${type}" cannot be enqueued here`))
      const toOptions = e.options
      // the options of a payload the schema accepted, given its decoded value; a refused
      // payload is the 400 of the enqueue (every issue named). An `InvalidInput` thrown by
      // `options` is the host refusing the request: a 400 with its issues. Any other throw is
      // the host's bug: a defect, logged and answered 500 without its text.
      const extra: Effect.Effect<Omit<Tracker.EnqueueOptions, "owner">, InvalidInput> = toOptions === undefined
        ? Effect.succeed({})
        : Effect.flatMap(PayloadSchema.validate(e.definition.payload, body, ["payload"]), (validated) =>
          validated._tag === "Invalid"
            ? Effect.fail(new InvalidInput({ type, issues: validated.issues }))
            : Effect.suspend(() => {
              try {
                return Effect.succeed(toOptions(validated.value))
              } catch (thrown) {
                return thrown instanceof InvalidInput ? Effect.fail(thrown) : Effect.die(thrown)
              }
            }))
      return run(
        Effect.flatMap(extra, (extra) => tracker.enqueueUnknown(type, body, { ...extra, owner: caller ?? undefined })).pipe(
          Effect.flatMap(({ created, job }) =>
            // Key dedupe is owner-scoped in the store contract; a store that returns another
            // owner's job breaks it, and that job is never shown.
            job.owner !== caller
              ? Effect.die(new Error(`jobtrack: the store deduplicated a keyed enqueue onto another owner's job`))
              : Effect.map(tracker.get(job.id), (view) => ({ created, job: view })))
        ),
        ({ created, job }) => ({
          status: created ? 202 : 200,
          body: {
            status: job.status,
            job_id: job.id,
            message: created ? "Job enqueued" : "A job with this key already exists",
            job: present(job)
          }
        })
      )
    },

    list: (query, caller) => {
      const issues = queryIssues("list", query)
      const status = query.status === undefined
        ? undefined
        : (typeof query.status === "string" ? [query.status] : query.status).flatMap((s) => s.split(",")).filter((s) => s.length > 0)
      for (const s of status ?? []) {
        if (!statusSet.has(s)) issues.push({ path: ["status"], message: `unknown status "${s}"` })
      }
      const limitText = one(query.limit)
      const limit = limitText === undefined ? 50 : Number(limitText)
      if (!Number.isInteger(limit) || limit < 1 || limit > 500) {
        if (limitText !== undefined) issues.push({ path: ["limit"], message: "Expected an integer between 1 and 500" })
      }
      const cursor = one(query.cursor)
      if (cursor !== undefined && !JobId.isValid(cursor)) {
        issues.push({ path: ["cursor"], message: "Expected a cursor returned by a previous page" })
      }
      if (issues.length > 0) return Promise.resolve(error(400, "invalid_input", "invalid query", { issues }))
      return run(
        tracker.list({
          owner: caller,
          status: status as Array<JobStatus> | undefined,
          type: one(query.type),
          key: one(query.key),
          // the console's bulk jobs, also those enqueued before they had a reserved owner (none): left out by
          // the store's query, so a page is full and its cursor names a job of the caller's
          excludeQueue: InternalJobs.consoleQueue,
          limit,
          cursor
        }),
        // and never shown, whatever a store does with `excludeQueue`
        (page) => ({
          status: 200,
          body: { items: page.items.filter((j) => !InternalJobs.isInternal(j)).map(presentItem), next_cursor: page.nextCursor }
        })
      )
    },

    // the status view, with the lines its attempts wrote with ctx.log
    get: (id, caller) =>
      guarded(
        id,
        caller,
        (job) => Effect.map(tracker.logs(job.id), (logs) => ({ job, logs })),
        ({ job, logs }) => {
          const body = present(job)
          return {
            status: 200,
            body: typeof body === "object" && body !== null && !Array.isArray(body) ? { ...body, logs: logs.map(fromLogLine) } : body
          }
        }
      ),

    events: async (id, caller, lastEventId) => {
      const exit = await Effect.runPromiseExit(owned(id, caller))
      if (Exit.isFailure(exit)) return failure(exit.cause)
      const now = exit.value
      // the client has the final state already: 204 tells an EventSource to stop reconnecting
      if (lastEventId !== undefined && Job.isTerminal(now.status) && EventStream.eventId(now) === lastEventId) {
        return { status: 204 }
      }
      // the shared watch's `Stream` form (the `events` Stream), once effect's Stream is loaded
      const events = await Effect.runPromise(EventFanout.frames(fanout, now, lastEventId))
      return {
        status: 200,
        events,
        follow: (sink) => fanout.join(now, lastEventId, sink)
      }
    },

    cancel: (id, caller) =>
      guarded(id, caller, (job) => tracker.cancel(job.id), (job) => ({ status: 202, body: present(job) })),

    retry: (id, caller) =>
      guarded(id, caller, (job) => tracker.retry(job.id), (job) => ({ status: 202, body: present(job) })),

    remove: (id, caller) => guarded(id, caller, (job) => tracker.delete(job.id), () => ({ status: 204 })),

    stats: (query, caller) => {
      const refused = checkQuery("stats", query)
      if (refused !== undefined) return Promise.resolve(refused)
      return run(tracker.stats({ owner: caller, type: one(query.type), excludeQueue: InternalJobs.consoleQueue }), (stats) => ({
        status: 200,
        body: {
          counts: stats.counts,
          success_rate: stats.successRate,
          durations: durations(stats.durations),
          by_type: stats.byType.map((t) => ({
            type: t.type,
            counts: t.counts,
            success_rate: t.successRate,
            durations: durations(t.durations)
          }))
        }
      }))
    }
  }
  // an owner reserved for jobtrack's own jobs is no caller's: refused before anything is read
  const reserved = () => Promise.resolve(error(403, "forbidden", "this owner is reserved"))
  return {
    enqueue: (type, body, caller) => InternalJobs.isReservedOwner(caller) ? reserved() : api.enqueue(type, body, caller),
    list: (query, caller) => InternalJobs.isReservedOwner(caller) ? reserved() : api.list(query, caller),
    get: (id, caller) => InternalJobs.isReservedOwner(caller) ? reserved() : api.get(id, caller),
    events: (id, caller, last) => InternalJobs.isReservedOwner(caller) ? reserved() : api.events(id, caller, last),
    cancel: (id, caller) => InternalJobs.isReservedOwner(caller) ? reserved() : api.cancel(id, caller),
    retry: (id, caller) => InternalJobs.isReservedOwner(caller) ? reserved() : api.retry(id, caller),
    remove: (id, caller) => InternalJobs.isReservedOwner(caller) ? reserved() : api.remove(id, caller),
    stats: (query, caller) => InternalJobs.isReservedOwner(caller) ? reserved() : api.stats(query, caller)
  }
}

const durations = (d: { count: number; meanMs: number | null; p50Ms: number | null; p95Ms: number | null }) => ({
  count: d.count,
  mean_ms: d.meanMs,
  p50_ms: d.p50Ms,
  p95_ms: d.p95Ms
})
