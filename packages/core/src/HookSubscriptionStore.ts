/**
 * The store contract's hook subscriptions: which (job type, event) pairs some
 * process has a lifecycle hook for. A transition into a terminal status
 * records a hook delivery (rule 12) only when its (type, event) is
 * subscribed, so a host without hooks pays nothing per finished job. A
 * process with hooks subscribes when its delivery loop starts
 * (`HookDelivery.make` does it), before it claims anything; subscriptions are
 * kept by the store (a hook deployed once keeps getting deliveries even while
 * every process that has it is down: at least once). `JobStore` extends this
 * interface.
 *
 * @since 0.2.0
 */
import type { Effect } from "effect"
import type { StoreError } from "./JobError.js"
import type { HookEvent } from "./JobStore.js"

/**
 * @since 0.2.0
 * @category models
 */
export interface HookSubscription {
  readonly types: ReadonlyArray<string>
  readonly events: ReadonlyArray<HookEvent>
}

/**
 * @example
 * ```ts
 * yield* store.subscribeHooks({ types: ["send-email"], events: ["failed"] })
 * ```
 * @since 0.2.0
 * @category models
 */
export interface HookSubscriptionStoreShape {
  /**
   * From now on, record a delivery when a job of one of `types` reaches one of
   * `events` (every pair of the two lists). Idempotent.
   */
  readonly subscribeHooks: (subscription: HookSubscription) => Effect.Effect<void, StoreError>
}
