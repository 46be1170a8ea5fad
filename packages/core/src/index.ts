/**
 * jobtrack core: tracked background jobs with progress, retries,
 * cancellation, leases and concurrency groups.
 *
 * @since 0.1.0
 */

/** @since 0.1.0 */
export * as AdminStore from "./AdminStore.js"
export * as Command from "./Command.js"
/** @since 0.1.0 */
export * as HookDelivery from "./HookDelivery.js"
/** @since 0.1.0 */
export * as Hooks from "./Hooks.js"
/** @since 0.1.0 */
export * as Job from "./Job.js"
/** @since 0.1.0 */
export * as JobDefinition from "./JobDefinition.js"
/** @since 0.1.0 */
export * as JobId from "./JobId.js"
/** @since 0.2.0 */
export * as JobLogStore from "./JobLogStore.js"
/** @since 0.2.0 */
export * as JobSchedule from "./JobSchedule.js"
/** @since 0.1.0 */
export * as Jobtrack from "./Jobtrack.js"
/** @since 0.2.0 */
export * as JobResult from "./JobResult.js"
/** @since 0.1.0 */
export * as MemoryStore from "./MemoryStore.js"
/** @since 0.2.0 */
export * as PayloadSchema from "./PayloadSchema.js"
/** @since 0.2.0 */
export * as QueuePosition from "./QueuePosition.js"
/** @since 0.1.0 */
export * as RetryPolicy from "./RetryPolicy.js"
/** @since 0.1.0 */
export * as Runner from "./Runner.js"
/** @since 0.2.0 */
export * as SeriesHistogram from "./SeriesHistogram.js"
/** @since 0.2.0 */
export * as Step from "./Step.js"
/** @since 0.2.0 */
export * as Scheduler from "./Scheduler.js"
/** @since 0.1.0 */
export * as Storable from "./Storable.js"
/** @since 0.2.0 */
export * as Telemetry from "./Telemetry.js"
/** @since 0.1.0 */
export * as Tracker from "./Tracker.js"

export type { AsyncJobContext, JobContext } from "./JobContext.js"
export type { AttemptError, JobRecord, JobStatus, JobSummary, JobSummaryView, JobView, Json, Lease, NewJob } from "./Job.js"
export { JobStore, Transaction } from "./JobStore.js"
export type { JobLogStoreShape, LogLevel, LogLine } from "./JobLogStore.js"
export type { HookSubscription, HookSubscriptionStoreShape } from "./HookSubscriptionStore.js"
export type {
  ChangesResync,
  ClaimRequest,
  CompletedMany,
  DeliveryClaim,
  DeliveryFailure,
  DeliveryFilter,
  DurationStats,
  Enqueued as StoreEnqueued,
  FailRequest,
  HookDelivery as HookDeliveryRecord,
  HookEvent,
  JobChange,
  JobChanged,
  JobStoreShape,
  StoreLayer,
  ListFilter,
  Page,
  Stats,
  StatsFilter,
  TypeStats
} from "./JobStore.js"
export type { StepInfo, StepKey, StepRecord, StepStatus, StepStoreShape } from "./StepStore.js"
export {
  FatalError,
  InvalidInput,
  InvalidOptions,
  InvalidTransition,
  JobNotFound,
  JobTimeout,
  LeaseLost,
  ResultTooLarge,
  StoreError,
  UnknownJobType,
  isFatal
} from "./JobError.js"
export type { Issue, StoreFailure } from "./JobError.js"
export { CommandFailed } from "./Command.js"
export { ScheduleNotFound } from "./ScheduleStore.js"
export type { ScheduleState, ScheduleStoreShape, TickOutcome, TickRequest } from "./ScheduleStore.js"
export type { QueueChanged, StatusFeedStoreShape } from "./StatusFeedStore.js"
