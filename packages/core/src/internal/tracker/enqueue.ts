/**
 * The tracker's enqueue: each item's payload validated with its definition's
 * Schema (synchronously when the schema allows, with no Effect per item) and
 * its options checked, every issue of the batch reported at once
 * (`InvalidInput`), then the jobs inserted in one store call, inside the
 * host's transaction when one is given and in a `jobtrack.enqueue` span when
 * traced.
 */
import { Clock, Duration, Effect, Option } from "effect"
import type { NewJob } from "../../Job.js"
import type * as JobDefinition from "../../JobDefinition.js"
import { InvalidInput } from "../../JobError.js"
import type { Issue } from "../../JobError.js"
import * as JobId from "../../JobId.js"
import { Transaction } from "../../JobStore.js"
import type { JobStoreShape } from "../../JobStore.js"
import * as PayloadSchema from "../../PayloadSchema.js"
import * as Storable from "../../Storable.js"
import type { Settings } from "../../Telemetry.js"
import type { EnqueueOptions } from "../../Tracker.js"
import * as Telemetry from "../telemetry.js"

/** An item without options (the usual case in a batch): nothing to check. */
const noOptions: EnqueueOptions<unknown> = Object.freeze({})
const noIssues: ReadonlyArray<Issue> = Object.freeze([])
const noPrefix: ReadonlyArray<string | number> = Object.freeze([])
const payloadPath: ReadonlyArray<string | number> = Object.freeze(["payload"])

const checkOptions = (options: EnqueueOptions<unknown>): Array<Issue> => {
  const issues: Array<Issue> = []
  const text = (name: "owner" | "key", value: unknown, max: number) => {
    if (value === undefined) return
    if (typeof value !== "string" || value.length === 0 || value.length > max) {
      issues.push({ path: ["options", name], message: `Expected a non-empty string of at most ${max} characters` })
    } else {
      const problem = Storable.textProblem(value)
      if (problem) issues.push({ path: ["options", name], message: problem })
    }
  }
  text("owner", options.owner, 256)
  text("key", options.key, 2048)
  if (
    options.priority !== undefined &&
    !(Number.isInteger(options.priority) && options.priority >= -1000 && options.priority <= 1000)
  ) {
    issues.push({ path: ["options", "priority"], message: "Expected an integer between -1000 and 1000" })
  }
  if (options.runAt !== undefined && !(options.runAt instanceof Date && !Number.isNaN(options.runAt.getTime()))) {
    issues.push({ path: ["options", "runAt"], message: "Expected a valid Date" })
  }
  if (options.delay !== undefined && Option.isNone(Duration.fromInput(options.delay))) {
    issues.push({ path: ["options", "delay"], message: "Expected a duration" })
  }
  return issues
}

/**
 * The job to insert for a validated item, or every issue found. `runNow` is
 * the batch's one Date for jobs without a run time or delay (record times
 * are never mutated, so the jobs of a batch share it).
 */
const toNewJob = (
  def: JobDefinition.Any,
  validated: PayloadSchema.Validated,
  opts: EnqueueOptions<unknown>,
  runNow: Date,
  prefix: ReadonlyArray<string | number>
): NewJob | Array<Issue> => {
  const optionIssues = opts === noOptions ? noIssues : checkOptions(opts)
  // what no store can hold is bad input, refused here for every store
  const payloadIssues = validated._tag === "Invalid"
    ? validated.issues
    : Storable.jsonIssues(validated.stored, prefix.length === 0 ? payloadPath : [...prefix, "payload"])
  if (validated._tag === "Invalid" || payloadIssues.length > 0 || optionIssues.length > 0) {
    return [...payloadIssues, ...optionIssues.map((i) => ({ ...i, path: [...prefix, ...i.path] }))]
  }
  const owner = opts.owner ?? null
  const key = opts.key ?? null
  const runAt = opts.runAt ??
    (opts.delay === undefined ? runNow : new Date(runNow.getTime() + Duration.toMillis(opts.delay)))
  return {
    id: JobId.make(),
    type: def.type,
    queue: def.queue,
    payload: validated.stored as NewJob["payload"],
    maxAttempts: def.retry.maxRetries + 1,
    priority: opts.priority ?? def.priority,
    runAt,
    owner,
    key,
    groupKey: def.group ? def.group.key(validated.value, { owner, key }) : null,
    groupLimit: def.group ? def.group.limit : null
  }
}

/** The tracker's enqueue verbs over the store (instrumented) and the telemetry settings. */
export const enqueuer = (store: JobStoreShape, settings: Settings) => {
  const enqueueMany = (
    def: JobDefinition.Any,
    items: ReadonlyArray<{ readonly payload: unknown; readonly options?: EnqueueOptions<unknown> | undefined }>
  ) =>
    Effect.gen(function*() {
      const runNow = new Date(yield* Clock.currentTimeMillis)
      const single = items.length === 1
      const prefix = (i: number) => (single ? noPrefix : [i])
      // validated in a plain loop when the schema is synchronous (no Effect per item), else
      // every item as an Effect (ids stay in item order either way)
      let prepared: Array<NewJob | Array<Issue>> = []
      for (let i = 0; i < items.length; i++) {
        const item = items[i]!
        const validated = PayloadSchema.validateSync(def.payload, item.payload, single ? payloadPath : [i, "payload"])
        if (validated === undefined) break
        prepared.push(toNewJob(def, validated, item.options ?? noOptions, runNow, prefix(i)))
      }
      if (prepared.length < items.length) {
        prepared = yield* Effect.forEach(items, (item, i) =>
          Effect.map(
            PayloadSchema.validate(def.payload, item.payload, [...prefix(i), "payload"]),
            (validated) => toNewJob(def, validated, item.options ?? noOptions, runNow, prefix(i))
          ))
      }
      const issues = prepared.flatMap((p) => (Array.isArray(p) ? p : []))
      if (issues.length > 0) return yield* new InvalidInput({ type: def.type, issues })
      const transaction = items[0]?.options?.transaction
      // in a `jobtrack.enqueue` span when traced: the jobs keep its trace context
      return yield* Telemetry.enqueue(settings, def, items.length, (traceparent) => {
        const jobs = prepared as Array<NewJob>
        const insert = store.enqueueMany(traceparent === null ? jobs : jobs.map((j) => ({ ...j, traceparent })))
        return transaction === undefined ? insert : Effect.provideService(insert, Transaction, transaction)
      })
    })

  const enqueueOne = (def: JobDefinition.Any, payload: unknown, opts?: EnqueueOptions<unknown>) =>
    Effect.map(enqueueMany(def, [{ payload, options: opts }]), (all) => all[0]!)

  return { enqueueMany, enqueueOne }
}
