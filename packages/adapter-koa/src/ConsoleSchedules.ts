/**
 * The operator console's schedules view, as a framework-agnostic handler
 * (like {@link ConsoleApi}): every cron schedule of the `Jobtrack` with its
 * next run, read through the facade's schedules API (`jobs.schedules.list()`).
 * The console is an operator view across owners, so every schedule is listed;
 * who may open the console at all is the console's `access` (404 otherwise).
 * A console over a bare store (no `Jobtrack`) has no schedules: an empty list.
 *
 * @example
 * ```ts
 * const answer = await ConsoleSchedules.list(jobs.schedules)
 * // { status: 200, body: { items: [{ name: "nightly", next_run_at: "2026-12-01T02:00:00.000Z", ... }] } }
 * ```
 * @since 0.3.0
 */
import type { Jobtrack } from "@jobtrack/core"
import { error } from "./HttpError.js"
import type { HttpResponse } from "./HttpError.js"
import { toWire } from "./schedulesRouter.js"

/**
 * The schedules on the wire (`WireSchedule`: name, cron, time zone, owner,
 * paused, last tick, next runs), in configuration order; a store that cannot
 * answer is a 503 that carries none of its text.
 *
 * @since 0.3.0
 * @category handlers
 */
export const list = async (schedules: Jobtrack.SchedulesApi | undefined): Promise<HttpResponse> => {
  if (schedules === undefined) return { status: 200, body: { items: [] } }
  try {
    return { status: 200, body: { items: (await schedules.list()).map(toWire) } }
  } catch (e) {
    const tagged = e as { _tag?: string; failure?: string; reason?: unknown }
    if (!(tagged._tag === "StoreError" && tagged.failure === "unavailable")) {
      console.error("jobtrack console: schedules failed", tagged._tag === "StoreError" ? tagged.reason : e)
    }
    return error(503, "store_unavailable", "the job store could not answer")
  }
}
