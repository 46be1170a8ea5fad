/**
 * The console's actions, each needing its name in the operator's
 * permissions (403 otherwise) and written to the audit trail: on one job
 * (answered with the job's view, or 204 for a delete), on a selection of at
 * most 500 ids (applied at once), and by filter (a tracked bulk job,
 * `ConsoleBulk`, over the jobs that match when it is asked for; an empty
 * filter, every job, only with `"all": true`). A field a request does not
 * know, in the body or in the filter, is a 400 naming it.
 *
 * @since 0.2.0
 */
import { Effect } from "effect"
import { JobId } from "@jobtrack/core"
import type { AdminStore, Issue, JobStoreShape } from "@jobtrack/core"
import type { ConsoleApi, Operator } from "../ConsoleApi.js"
import * as ConsoleBulk from "../ConsoleBulk.js"
import * as ConsoleInput from "../ConsoleInput.js"
import type { ConsoleAction } from "../ConsoleInput.js"
import { error } from "../HttpError.js"
import { actionName, asInput, invalid, NotApplicable, run } from "./Answer.js"
import type { ApiError } from "./Answer.js"

const forbidden = (a: ConsoleAction) => error(403, "forbidden", `you may not ${a}`)

/**
 * @since 0.2.0
 * @category handlers
 */
export const actions = (store: JobStoreShape): Pick<ConsoleApi, "act" | "actOnSelection" | "actByFilter"> => {
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
    act: (id, body, op) => {
      const issues: Array<Issue> = []
      const input = asInput(body)
      const action = input ? ConsoleInput.action(input, issues) : (issues.push({ path: [], message: "Expected an object" }), undefined)
      if (input) ConsoleInput.unknownFields(input, ["action", "priority"], issues)
      if (!action || issues.length > 0) return Promise.resolve(invalid(issues))
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
      ConsoleInput.unknownFields(input, ["action", "priority", "ids"], issues)
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
      ConsoleInput.unknownFields(input, ["action", "priority", "filter", "all"], issues)
      const wire = asInput(input.filter)
      if (!wire) issues.push({ path: ["filter"], message: "Expected an object of filter fields" })
      const before = issues.length
      const filter = wire ? ConsoleInput.filter(wire, issues) : {}
      // every job only when asked in so many words: an empty filter is more often a mistake
      const all = input.all
      if (all !== undefined && all !== true) issues.push({ path: ["all"], message: "Expected true (every job) or no all field" })
      else if (wire && issues.length === before) {
        const empty = Object.keys(filter).length === 0
        if (empty && all !== true) {
          issues.push({ path: ["filter"], message: "Expected at least one filter field; to act on every job, send \"all\": true with an empty filter" })
        } else if (!empty && all === true) {
          issues.push({ path: ["all"], message: "\"all\": true acts on every job: send it with an empty filter" })
        }
      }
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
    }
  }
}
