/**
 * Jobs jobtrack enqueues for itself (the console's actions by filter) are
 * nobody's: they belong to a reserved owner, so no caller of the jobs API —
 * an anonymous one included, whose jobs are those without an owner — lists,
 * counts, reads, streams, cancels, retries or deletes them. Owners starting
 * with `jobtrack:` are reserved: the jobs API refuses a caller resolved to
 * one (403), and never shows a job of the console's queue or of a reserved
 * owner, whoever asks.
 *
 * @since 0.2.0
 */

/**
 * The prefix of the owners jobtrack reserves for its own jobs.
 *
 * @since 0.2.0
 * @category constants
 */
export const reservedPrefix = "jobtrack:"

/**
 * The owner of the console's bulk jobs (`jobtrack.console.bulk`).
 *
 * @since 0.2.0
 * @category constants
 */
export const consoleOwner = "jobtrack:console"

/**
 * The console's queue (also `ConsoleBulk.queue`; kept here so the jobs API
 * need not load the console). The jobs API leaves it out of its store
 * queries (`excludeQueue`), so a list page stays full and `/stats` never
 * counts a bulk job, also one enqueued before 0.2.0 without an owner.
 *
 * @since 0.2.0
 * @category constants
 */
export const consoleQueue = "jobtrack.console"

/**
 * Whether `owner` is reserved for jobtrack's own jobs (no caller may be it).
 *
 * @example
 * ```ts
 * import { InternalJobs } from "@jobtrack/adapter-koa"
 * InternalJobs.isReservedOwner("jobtrack:console") // true
 * InternalJobs.isReservedOwner("ann") // false
 * ```
 * @since 0.2.0
 * @category predicates
 */
export const isReservedOwner = (owner: string | null | undefined): boolean =>
  typeof owner === "string" && owner.startsWith(reservedPrefix)

/**
 * Whether a job is jobtrack's own: on the console's queue (also those
 * enqueued, before 0.2.0, without an owner) or of a reserved owner.
 *
 * @example
 * ```ts
 * import { InternalJobs } from "@jobtrack/adapter-koa"
 * InternalJobs.isInternal({ queue: "jobtrack.console", owner: null }) // true
 * ```
 * @since 0.2.0
 * @category predicates
 */
export const isInternal = (job: { readonly queue: string; readonly owner: string | null }): boolean =>
  job.queue === consoleQueue || isReservedOwner(job.owner)
