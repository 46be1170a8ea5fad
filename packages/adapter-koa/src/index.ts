/**
 * The HTTP contract of jobtrack for Koa.
 *
 * @since 0.1.0
 */

/** @since 0.1.0 */
export * as EventStream from "./EventStream.js"
/** @since 0.1.0 */
export * as HttpError from "./HttpError.js"
/** @since 0.1.0 */
export * as JobsApi from "./JobsApi.js"
/** @since 0.1.0 */
export * as WireView from "./WireView.js"

export { jobsRouter } from "./jobsRouter.js"
export type { JobsRouterOptions } from "./jobsRouter.js"
