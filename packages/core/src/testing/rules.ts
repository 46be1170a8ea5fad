/**
 * Every rule module of the conformance suite, in the order it registers
 * them. A new rule area is a new module beside its peers, listed here.
 *
 * @since 0.1.0
 */
import { adminRules } from "./admin.js"
import { atomicClaimRules } from "./claim.js"
import { claimOrderRules } from "./claimOrder.js"
import { dedupeRules } from "./dedupe.js"
import { enqueueRules } from "./enqueue.js"
import { filterRules } from "./filters.js"
import { groupRules } from "./groups.js"
import type { ConformanceOptions, Rule, RuleModule } from "./harness.js"
import { hookDeliveryRules } from "./hookDeliveries.js"
import { keyRules } from "./keys.js"
import { leaseRules } from "./leases.js"
import { listingRules } from "./listing.js"
import { notificationRules } from "./notifications.js"
import { ownerKeyRules } from "./ownerKeys.js"
import { positionRules } from "./position.js"
import { progressRules } from "./progress.js"
import { stepRules } from "./steps.js"
import { telemetryRules } from "./telemetry.js"
import { scheduleRules } from "./schedules.js"
import { statusFeedRules } from "./statusFeed.js"
import { transitionRules } from "./transitions.js"

/** Every rule module, in the order the suite registers them. */
const modules: ReadonlyArray<RuleModule> = [
  enqueueRules,
  dedupeRules,
  keyRules,
  ownerKeyRules,
  atomicClaimRules,
  claimOrderRules,
  groupRules,
  leaseRules,
  progressRules,
  positionRules,
  transitionRules,
  listingRules,
  filterRules,
  notificationRules,
  hookDeliveryRules,
  adminRules,
  stepRules,
  telemetryRules,
  scheduleRules,
  statusFeedRules
]

/** The suite's rules as data (for running one check against a given store). */
export const conformanceRules = (options: ConformanceOptions): ReadonlyArray<Rule> =>
  modules.map((m) => m({ options, N: options.claimers ?? 16 }))
