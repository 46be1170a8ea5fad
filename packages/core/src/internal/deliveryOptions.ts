/**
 * The checks of `HookDeliveryOptions` (also a runner's `hookDelivery`).
 *
 * @internal
 */
import type { HookDeliveryOptions } from "../HookDelivery.js"
import * as Options from "./options.js"

/** Every option of `HookDeliveryOptions`. */
export const names = Options.names<HookDeliveryOptions>({
  hooks: true,
  types: true,
  workerId: true,
  concurrency: true,
  lease: true,
  pollInterval: true,
  retry: true,
  shutdownGrace: true
}) as ReadonlyArray<keyof HookDeliveryOptions>

/** Adds what is wrong with the delivery settings (not `hooks`, `types`) to `c`. */
export const check = (c: Options.Checker, options: Record<string, unknown>): void => {
  Options.optionalInteger(c, "concurrency", options.concurrency, 1)
  Options.optionalDuration(c, "lease", options.lease)
  Options.optionalDuration(c, "pollInterval", options.pollInterval)
  Options.optionalDuration(c, "shutdownGrace", options.shutdownGrace, { zero: true })
  Options.optionalString(c, "workerId", options.workerId)
  if (options.retry !== undefined) Options.retryPolicy(c, "retry", options.retry)
}
