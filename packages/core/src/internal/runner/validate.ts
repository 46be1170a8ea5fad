/**
 * The checks of `RunnerOptions`: every option, every problem, before anything
 * starts (a `concurrency` of 0 would claim nothing and a job's `result()`
 * would wait forever; a `lease` of "soon" would throw from deep inside).
 *
 * @internal
 */
import type * as HookDelivery from "../../HookDelivery.js"
import type * as Hooks from "../../Hooks.js"
import { InvalidOptions } from "../../JobError.js"
import type { RunnerOptions } from "../../Runner.js"
import * as DeliveryOptions from "../deliveryOptions.js"
import * as Options from "../options.js"

/** Every option of `RunnerOptions`. */
export const names = Options.names<RunnerOptions>({
  definitions: true,
  concurrency: true,
  lease: true,
  heartbeat: true,
  pollInterval: true,
  progressInterval: true,
  shutdownGrace: true,
  abandonAfter: true,
  maxResultBytes: true,
  prune: true,
  seriesSummary: true,
  workerId: true,
  hooks: true,
  hookDelivery: true
})

/** The runner's settings as `Jobtrack.make` takes them (`runner`: its definitions and hooks are its own options). */
export const settingNames = names.filter((n) => n !== "definitions" && n !== "hooks")

const hookNames = Options.names<Hooks.Hooks>({ onCompleted: true, onFailed: true, onCancelled: true })

/** Adds what is wrong with `hooks` (not an object, a name that is no hook) to `c`. */
export const hooks = (c: Options.Checker, value: unknown): void => {
  if (value === undefined) return
  if (!Options.isRecord(value)) return Options.add(c, "hooks", `must be an object of hook functions (got ${Options.show(value)})`)
  Options.unknownKeys(Options.under(c, "hooks"), value, hookNames)
}

/** A runner's `hookDelivery`: the delivery's options but those the runner sets. */
const deliveryNames = DeliveryOptions.names.filter((n: keyof HookDelivery.HookDeliveryOptions) =>
  n !== "hooks" && n !== "types" && n !== "workerId"
)

/** Adds what is wrong with `definitions` (not an array, not definitions, two of one type) to `c`. */
export const definitions = (c: Options.Checker, value: unknown): void => {
  if (!Array.isArray(value)) return Options.add(c, "definitions", `must be an array of job definitions (got ${Options.show(value)})`)
  const seen = new Map<string, { readonly def: unknown; readonly at: number }>()
  value.forEach((def: unknown, i) => {
    if (!Options.isRecord(def) || typeof def.type !== "string" || typeof def.handler !== "function") {
      return Options.add(Options.under(c, "definitions"), i, "must be a job definition (made by JobDefinition.make)")
    }
    const first = seen.get(def.type)
    if (first === undefined) seen.set(def.type, { def, at: i })
    else if (first.def !== def) {
      Options.add(Options.under(c, "definitions"), i, `two job definitions have the type "${def.type}" (also definitions.${first.at})`)
    }
  })
}

/** Adds what is wrong with the runner's settings (all but `definitions`) to `c`. */
export const settings = (c: Options.Checker, options: Record<string, unknown>): void => {
  Options.optionalInteger(c, "concurrency", options.concurrency, 1)
  const lease = Options.optionalDuration(c, "lease", options.lease)
  const heartbeat = Options.optionalDuration(c, "heartbeat", options.heartbeat)
  if (heartbeat !== undefined && heartbeat >= (lease ?? 30_000)) {
    Options.add(c, "heartbeat", `must be shorter than the lease (${lease ?? 30_000} ms), or the lease expires between heartbeats`)
  }
  Options.optionalDuration(c, "pollInterval", options.pollInterval)
  Options.optionalDuration(c, "progressInterval", options.progressInterval, { zero: true })
  Options.optionalDuration(c, "shutdownGrace", options.shutdownGrace, { zero: true })
  Options.optionalDuration(c, "abandonAfter", options.abandonAfter, { zero: true })
  Options.optionalInteger(c, "maxResultBytes", options.maxResultBytes, 1)
  Options.optionalString(c, "workerId", options.workerId)
  const prune = options.prune
  if (prune !== undefined && prune !== false) {
    if (!Options.isRecord(prune)) Options.add(c, "prune", `must be false or { after, every } (got ${Options.show(prune)})`)
    else {
      Options.duration(Options.under(c, "prune"), "after", prune.after, { zero: true })
      Options.duration(Options.under(c, "prune"), "every", prune.every)
      Options.unknownKeys(Options.under(c, "prune"), prune, ["after", "every"])
    }
  }
  const summary = options.seriesSummary
  if (summary !== undefined && summary !== false) {
    if (!Options.isRecord(summary)) Options.add(c, "seriesSummary", `must be false or { every } (got ${Options.show(summary)})`)
    else {
      Options.duration(Options.under(c, "seriesSummary"), "every", summary.every)
      Options.unknownKeys(Options.under(c, "seriesSummary"), summary, ["every"])
    }
  }
  hooks(c, options.hooks)
  const delivery = options.hookDelivery
  if (delivery !== undefined) {
    if (!Options.isRecord(delivery)) Options.add(c, "hookDelivery", `must be an object (got ${Options.show(delivery)})`)
    else {
      DeliveryOptions.check(Options.under(c, "hookDelivery"), delivery)
      Options.unknownKeys(Options.under(c, "hookDelivery"), delivery, deliveryNames)
    }
  }
}

/** Every problem of a runner's options, as one error; `undefined` when there is none. */
export const check = (options: unknown): InvalidOptions | undefined => {
  const c = Options.checker()
  if (!Options.isRecord(options)) Options.add(c, undefined, `must be an object (got ${Options.show(options)})`)
  else {
    definitions(c, options.definitions)
    settings(c, options)
    Options.unknownKeys(c, options, names)
  }
  return c.issues.length > 0 ? new InvalidOptions({ of: "Runner options", issues: c.issues }) : undefined
}
