/**
 * The operator console's schedules view, as framework-agnostic handlers
 * (like {@link ConsoleApi}): every cron schedule of the `Jobtrack` with its
 * next run, read through the facade's schedules API (`jobs.schedules.list()`),
 * and the operator's actions on one: pause, resume, trigger now. The console
 * is an operator view across owners, so every schedule is listed; who may
 * open the console at all is the console's `access` (404 otherwise), and each
 * action needs its name in the operator's `actions` (`pauseSchedule`,
 * `resumeSchedule`, `triggerSchedule`; 403 otherwise). Every action is
 * written to the audit trail. A console over a bare store (no `Jobtrack`)
 * has no schedules: an empty list, and a 404 for any name.
 *
 * @example
 * ```ts
 * const answer = await ConsoleSchedules.list(jobs.schedules)
 * // { status: 200, body: { items: [{ name: "nightly", next_run_at: "2026-12-01T02:00:00.000Z", ... }] } }
 * const paused = await ConsoleSchedules.act(jobs.schedules, store, "nightly", { action: "pauseSchedule" }, operator)
 * // { status: 200, body: { name: "nightly", paused: true, ... } }
 * ```
 * @since 0.2.0
 */
import { Effect } from "effect"
import type { Issue, Jobtrack, JobStoreShape } from "@jobtrack/core"
import type { Operator } from "./ConsoleApi.js"
import * as ConsoleInput from "./ConsoleInput.js"
import { error } from "./HttpError.js"
import type { HttpResponse } from "./HttpError.js"
import { toWire } from "./schedulesRouter.js"

/** A failure of the schedules API as the console answers it; never the store's text. */
const failure = (e: unknown): HttpResponse => {
  const tagged = e as { _tag?: string; failure?: string; reason?: unknown }
  if (tagged._tag === "ScheduleNotFound") return error(404, "not_found", "no such schedule")
  if (!(tagged._tag === "StoreError" && tagged.failure === "unavailable")) {
    console.error("jobtrack console: schedules failed", tagged._tag === "StoreError" ? tagged.reason : e)
  }
  return error(503, "store_unavailable", "the job store could not answer")
}

/**
 * The schedules on the wire (`WireSchedule`: name, cron, time zone, owner,
 * paused, last tick, next runs), in configuration order; a store that cannot
 * answer is a 503 that carries none of its text.
 *
 * @since 0.2.0
 * @category handlers
 */
export const list = async (schedules: Jobtrack.SchedulesApi | undefined): Promise<HttpResponse> => {
  if (schedules === undefined) return { status: 200, body: { items: [] } }
  try {
    return { status: 200, body: { items: (await schedules.list()).map(toWire) } }
  } catch (e) {
    return failure(e)
  }
}

/**
 * One action on the schedule `name`: `{ "action": "pauseSchedule" }` or
 * `"resumeSchedule"` (200 with the schedule), `"triggerSchedule"` (202 with
 * the enqueued job's id: the job runs now, the schedule's own ticks are
 * unchanged). 400 for another body, 403 unless the operator may, 404 for an
 * unknown name. Pausing a paused schedule (or resuming an active one) is
 * idempotent and audited like any other.
 *
 * @since 0.2.0
 * @category handlers
 */
export const act = async (
  schedules: Jobtrack.SchedulesApi | undefined,
  store: JobStoreShape,
  name: string,
  body: unknown,
  op: Operator
): Promise<HttpResponse> => {
  const issues: Array<Issue> = []
  const input = typeof body === "object" && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : {}
  const action = ConsoleInput.scheduleAction(input, issues)
  if (!action) return error(400, "invalid_input", "invalid request", { issues })
  if (!op.actions.includes(action)) return error(403, "forbidden", `you may not ${action}`)
  if (schedules === undefined) return error(404, "not_found", "no such schedule")
  // how many jobs it made: the triggered one, or none
  const audit = (jobId: string | null) =>
    Effect.runPromise(store.recordAudit({ actor: op.actor, action, target: { schedule: name }, count: jobId ? 1 : 0, jobId }))
  try {
    if (action === "triggerSchedule") {
      const job = await schedules.trigger(name)
      await audit(job.id)
      return { status: 202, body: { job_id: job.id, type: job.type } }
    }
    const info = await (action === "pauseSchedule" ? schedules.pause(name) : schedules.resume(name))
    await audit(null)
    return { status: 200, body: toWire(info) }
  } catch (e) {
    return failure(e)
  }
}
