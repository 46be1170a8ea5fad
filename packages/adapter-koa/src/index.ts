/**
 * The HTTP contract of jobtrack for Koa.
 *
 * @since 0.1.0
 */

/** @since 0.2.0 */
export * as BodyReader from "./BodyReader.js"
/** @since 0.2.0 */
export * as EventFanout from "./EventFanout.js"
/** @since 0.1.0 */
export * as EventStream from "./EventStream.js"
/** @since 0.1.0 */
export * as HttpError from "./HttpError.js"
/** @since 0.2.0 */
export * as InternalJobs from "./InternalJobs.js"
/** @since 0.1.0 */
export * as JobsApi from "./JobsApi.js"
/** @since 0.2.0 */
export * as SsePacing from "./SsePacing.js"
/** @since 0.2.0 */
export * as StreamSlots from "./StreamSlots.js"
/** @since 0.1.0 */
export * as WireView from "./WireView.js"

export { jobsRouter } from "./jobsRouter.js"
export type { JobsRouterOptions } from "./jobsRouter.js"

/** @since 0.2.0 */
export * as ConsoleApi from "./ConsoleApi.js"
/** @since 0.2.0 */
export * as ConsoleBulk from "./ConsoleBulk.js"
/** @since 0.2.0 */
export * as ConsoleInput from "./ConsoleInput.js"
/** @since 0.2.0 */
export * as ConsoleSchedules from "./ConsoleSchedules.js"
export { jobsConsole } from "./jobsConsole.js"
export type { JobsConsole, JobsConsoleOptions } from "./jobsConsole.js"

/** @since 0.2.0 */
export { schedulesRouter, toWire as scheduleToWire } from "./schedulesRouter.js"
export type { ScheduleAccess, SchedulesRouterOptions, WireSchedule } from "./schedulesRouter.js"
export { metricsRouter } from "./metricsRouter.js"
export type { MetricsRouterOptions } from "./metricsRouter.js"
