/**
 * The operator console's admin API as framework-agnostic handlers (like
 * {@link JobsApi}): each takes plain values and the operator, and answers
 * `{ status, body }`. Reads see every owner's jobs; actions need the
 * operator's permission (403 otherwise) and are written to the audit trail.
 * Errors are the HTTP contract's (`{ error: { code, message, details } }`):
 * 400 naming every problem, 403, 404, 409; a store that is down is 503; no
 * error carries a path or a stack.
 *
 * @since 0.3.0
 */
import { Cause, Data, Effect, Exit, Option } from "effect"
import { JobId } from "@jobtrack/core"
import type { JobNotFound } from "@jobtrack/core"
import type { AdminStore, InvalidTransition, Issue, JobStatus, JobStoreShape, StoreError } from "@jobtrack/core"
import { error } from "./HttpError.js"
import type { HttpResponse } from "./HttpError.js"
import * as ConsoleBulk from "./ConsoleBulk.js"
import * as ConsoleInput from "./ConsoleInput.js"
import type { ConsoleAction } from "./ConsoleInput.js"
import * as RunningWatches from "./RunningWatches.js"

/**
 * Who is operating and what they may do: `actions` empty is read-only.
 *
 * @example
 * ```ts
 * const access = (ctx) => ctx.state.admin ? { actor: ctx.state.admin.email, actions: ConsoleInput.allActions } : null
 * ```
 * @since 0.3.0
 * @category models
 */
export interface Operator {
  /** Written to the audit trail. */
  readonly actor: string
  readonly actions: ReadonlyArray<ConsoleAction>
}

/**
 * @since 0.3.0
 * @category models
 */
export interface ConsoleApiOptions {
  /** Signs CSRF tokens; give the same one to every process (default: random per process). */
  readonly secret?: string | undefined
}

/**
 * @since 0.3.0
 * @category models
 */
export interface ConsoleApi {
  /** The operator, their permissions and their CSRF token. */
  readonly me: (op: Operator) => HttpResponse
  readonly overview: (query: Query, op: Operator) => Promise<HttpResponse>
  readonly series: (query: Query, op: Operator) => Promise<HttpResponse>
  readonly list: (query: Query, op: Operator) => Promise<HttpResponse>
  readonly get: (id: string, op: Operator) => Promise<HttpResponse>
  /** One job: `{ action, priority? }`. */
  readonly act: (id: string, body: unknown, op: Operator) => Promise<HttpResponse>
  /** A selection: `{ action, priority?, ids: [...] }`, at most 500, applied at once. */
  readonly actOnSelection: (body: unknown, op: Operator) => Promise<HttpResponse>
  /** By filter: `{ action, priority?, filter: {...} }`, a tracked bulk job (202 with its id). */
  readonly actByFilter: (body: unknown, op: Operator) => Promise<HttpResponse>
  readonly audit: (query: Query, op: Operator) => Promise<HttpResponse>
  /** Whether a mutation carries this operator's token (see {@link ConsoleApi.me}). */
  readonly tokenValid: (token: string | undefined, op: Operator) => boolean
}

type Query = Readonly<Record<string, string | undefined>>
/**
 * The action does not apply to the job in its status (e.g. run now on a completed job).
 *
 * @since 0.3.0
 * @category errors
 */
export class NotApplicable extends Data.TaggedError("NotApplicable")<{
  readonly action: ConsoleAction
  readonly status: JobStatus
}> {}

type ApiError = JobNotFound | InvalidTransition | NotApplicable | StoreError

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

const invalid = (issues: ReadonlyArray<Issue>) => error(400, "invalid_input", "invalid request", { issues })
const asInput = (body: unknown): Readonly<Record<string, unknown>> | undefined =>
  typeof body === "object" && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : undefined
const actionName = (a: AdminStore.AdminAction): ConsoleAction => a._tag

/** `node:crypto`, taken when first used: loading it is a few ms of CPU that a plain import need not pay. */
const crypto = () => process.getBuiltinModule("node:crypto")

/**
 * Build the handlers over a store.
 *
 * @since 0.3.0
 * @category constructors
 */
export const make = (store: JobStoreShape, options: ConsoleApiOptions = {}): ConsoleApi => {
  const secret = options.secret ?? JobId.make() + JobId.make()
  const tokenFor = (op: Operator) => crypto().createHmac("sha256", secret).update(`console:${op.actor}`).digest("base64url")

  const run = async <A>(effect: Effect.Effect<A, ApiError>, ok: (a: A) => HttpResponse): Promise<HttpResponse> => {
    const exit = await Effect.runPromiseExit(effect)
    return Exit.isSuccess(exit) ? ok(exit.value) : failure(exit.cause)
  }
  const forbidden = (a: ConsoleAction) => error(403, "forbidden", `you may not ${a}`)
  const scope = (query: Query, issues: Array<Issue>) => {
    const f = ConsoleInput.filter(query, issues)
    return { ...(f.owner !== undefined ? { owner: f.owner } : {}), ...(f.queue ? { queue: f.queue } : {}), ...(f.type ? { type: f.type } : {}) }
  }

  /** Apply one action to explicit ids, audited. */
  const applyToIds = (action: AdminStore.AdminAction, ids: ReadonlyArray<string>, op: Operator) =>
    Effect.gen(function*() {
      const r = yield* store.bulkChunk({ action, filter: { ids }, after: null, limit: ids.length })
      yield* store.recordAudit({
        actor: op.actor,
        action: actionName(action),
        target: { ids: [...ids], ...(action._tag === "setPriority" ? { priority: action.priority } : {}) },
        count: r.applied,
        jobId: null
      })
      return r
    })

  return {
    me: (op) => ({ status: 200, body: { actor: op.actor, actions: op.actions, token: tokenFor(op) } }),

    tokenValid: (token, op) => {
      if (token === undefined) return false
      const a = Buffer.from(token)
      const b = Buffer.from(tokenFor(op))
      return a.length === b.length && crypto().timingSafeEqual(a, b)
    },

    overview: (query, _op) => {
      const issues: Array<Issue> = []
      const filter = scope(query, issues)
      if (issues.length > 0) return Promise.resolve(invalid(issues))
      return run(
        Effect.all({
          counts: store.adminCounts({ filter }),
          oldest: store.oldestWaiting(filter),
          running: store.adminList({
            filter: { ...filter, status: ["processing"] },
            sort: "createdAt",
            order: "asc",
            limit: RunningWatches.cap
          })
        }, { concurrency: 3 }),
        ({ counts, oldest, running }) => ({
          status: 200,
          body: {
            counts: counts.rows,
            cap: counts.cap,
            oldest_waiting: oldest,
            running: running.items,
            running_more: running.next !== null
          }
        })
      )
    },

    series: (query, _op) => {
      const issues: Array<Issue> = []
      const filter = scope(query, issues)
      const range = query.range ?? "hour"
      if (range !== "hour" && range !== "day") issues.push({ path: ["range"], message: "Expected hour or day" })
      if (issues.length > 0) return Promise.resolve(invalid(issues))
      const [span, bucketMs] = range === "hour" ? [3_600_000, 60_000] : [86_400_000, 900_000]
      return run(
        Effect.flatMap(Effect.clockWith((c) => c.currentTimeMillis), (now) => {
          const to = Math.ceil((now + 1) / bucketMs) * bucketMs
          return store.series({ filter, from: new Date(to - span), to: new Date(to), bucketMs })
        }),
        // `partial`: some bucket counts only some of its jobs (the store's summary is catching up)
        (buckets) => ({ status: 200, body: { range, bucket_ms: bucketMs, buckets, partial: buckets.some((b) => b.partial === true) } })
      )
    },

    list: (query, _op) => {
      const req = ConsoleInput.listRequest(query)
      if (!req.ok) return Promise.resolve(invalid(req.issues))
      return run(store.adminList(req.value), (page) => ({
        status: 200,
        body: { items: page.items, next_cursor: page.next ? ConsoleInput.encodeCursor(page.next) : null }
      }))
    },

    get: (id, _op) =>
      JobId.isValid(id)
        ? run(
          Effect.all({
            job: store.view(id),
            // the attempt logs (`ctx.log`) and durable steps, where the store keeps them
            logs: store.logs(id).pipe(Effect.orElseSucceed(() => [])),
            steps: store.steps(id).pipe(Effect.orElseSucceed(() => []))
          }),
          ({ job, logs, steps }) => ({ status: 200, body: { ...job, logs, steps } })
        )
        : Promise.resolve(error(404, "not_found", "job not found")),

    act: (id, body, op) => {
      const issues: Array<Issue> = []
      const input = asInput(body)
      const action = input ? ConsoleInput.action(input, issues) : (issues.push({ path: [], message: "Expected an object" }), undefined)
      if (!action) return Promise.resolve(invalid(issues))
      if (!op.actions.includes(actionName(action))) return Promise.resolve(forbidden(actionName(action)))
      if (!JobId.isValid(id)) return Promise.resolve(error(404, "not_found", "job not found"))
      const single = (effect: Effect.Effect<unknown, ApiError>) =>
        Effect.andThen(effect, store.recordAudit({ actor: op.actor, action: action._tag, target: { ids: [id] }, count: 1, jobId: null }))
      const write: Effect.Effect<unknown, ApiError> = action._tag === "retry"
        ? single(store.retry(id))
        : action._tag === "cancel"
        ? single(store.cancel(id))
        : action._tag === "delete"
        ? single(store.delete(id))
        : Effect.flatMap(store.get(id), (job) =>
          Effect.flatMap(applyToIds(action, [id], op), (r) =>
            r.applied === 1 ? Effect.void : Effect.fail(new NotApplicable({ action: action._tag, status: job.status }))))
      return run(
        Effect.andThen(write, action._tag === "delete" ? Effect.succeed(null) : store.view(id)),
        (job) => (job === null ? { status: 204 } : { status: 200, body: job })
      )
    },

    actOnSelection: (body, op) => {
      const issues: Array<Issue> = []
      const input = asInput(body) ?? {}
      const action = ConsoleInput.action(input, issues)
      const ids = input.ids
      if (!Array.isArray(ids) || ids.length === 0 || ids.length > 500 || ids.some((i) => typeof i !== "string" || !JobId.isValid(i))) {
        issues.push({ path: ["ids"], message: "Expected 1-500 job ids" })
      }
      if (!action || issues.length > 0) return Promise.resolve(invalid(issues))
      if (!op.actions.includes(actionName(action))) return Promise.resolve(forbidden(actionName(action)))
      return run(applyToIds(action, ids as Array<string>, op), (r) => ({
        status: 200,
        body: { applied: r.applied, skipped: r.skipped }
      }))
    },

    actByFilter: (body, op) => {
      const issues: Array<Issue> = []
      const input = asInput(body) ?? {}
      const action = ConsoleInput.action(input, issues)
      const wire = asInput(input.filter)
      if (!wire) issues.push({ path: ["filter"], message: "Expected an object of filter fields" })
      const filter = wire ? ConsoleInput.filter(wire, issues) : {}
      if (!action || issues.length > 0) return Promise.resolve(invalid(issues))
      if (!op.actions.includes(actionName(action))) return Promise.resolve(forbidden(actionName(action)))
      return run(
        Effect.gen(function*() {
          const now = yield* Effect.clockWith((c) => c.currentTimeMillis)
          // jobs created after the request are not part of it
          const frozen: AdminStore.AdminFilter = {
            ...filter,
            createdTo: new Date(Math.min(filter.createdTo?.getTime() ?? Infinity, now + 1))
          }
          const payload: ConsoleBulk.Payload = {
            action: action._tag,
            ...(action._tag === "setPriority" ? { priority: action.priority } : {}),
            filter: ConsoleInput.filterToWire(frozen),
            actor: op.actor
          }
          const id = JobId.make(now)
          const { job } = yield* store.enqueue({
            id,
            type: ConsoleBulk.type,
            queue: ConsoleBulk.queue,
            payload,
            maxAttempts: 6,
            priority: 0,
            runAt: new Date(now),
            owner: ConsoleBulk.owner,
            key: null,
            groupKey: null,
            groupLimit: null
          })
          yield* store.recordAudit({
            actor: op.actor,
            action: `bulk.${action._tag}`,
            target: { filter: payload.filter, ...(action._tag === "setPriority" ? { priority: action.priority } : {}) },
            count: null,
            jobId: job.id
          })
          return job
        }),
        (job) => ({ status: 202, body: { job_id: job.id, job } })
      )
    },

    audit: (query, _op) => {
      const limit = query.limit === undefined ? 50 : Number(query.limit)
      const issues: Array<Issue> = []
      if (!Number.isInteger(limit) || limit < 1 || limit > 500) issues.push({ path: ["limit"], message: "Expected an integer between 1 and 500" })
      if (query.before !== undefined && !JobId.isValid(query.before)) issues.push({ path: ["before"], message: "Expected a cursor returned by a previous page" })
      if (issues.length > 0) return Promise.resolve(invalid(issues))
      return run(store.listAudit({ limit, before: query.before }), (page) => ({
        status: 200,
        body: { items: page.items, next_cursor: page.next }
      }))
    }
  }
}
