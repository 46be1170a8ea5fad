/**
 * An action by filter as a tracked job: the console enqueues a
 * `jobtrack.console.bulk` job (queue `jobtrack.console`) whose handler applies
 * the action chunk by chunk through the store's `bulkChunk`, reporting
 * progress, and writes the audit entry of its outcome. Because it is a job it
 * survives a restart: the lease expires, the job is retried, and the run
 * starts over — safe, as every action is idempotent over the filter (jobs it
 * already changed no longer match, or are changed again to the same value).
 * Jobs created after the request are left alone (`createdTo` is frozen at
 * the request).
 *
 * @since 0.2.0
 */
import { Effect } from "effect"
import type { StandardSchemaV1 } from "effect/StandardSchema"
import { JobDefinition, JobStore, RetryPolicy } from "@jobtrack/core"
import type { AdminStore, Issue } from "@jobtrack/core"
import * as ConsoleInput from "./ConsoleInput.js"
import * as InternalJobs from "./InternalJobs.js"

/**
 * @since 0.2.0
 * @category constants
 */
export const type = "jobtrack.console.bulk"

/**
 * @since 0.2.0
 * @category constants
 */
export const queue = "jobtrack.console"

/**
 * The owner of every bulk job: reserved, so no caller of the jobs API (an
 * anonymous one included) sees or touches them (see {@link InternalJobs}).
 *
 * @since 0.2.0
 * @category constants
 */
export const owner = InternalJobs.consoleOwner

/**
 * Jobs changed per chunk (one statement each).
 *
 * @since 0.2.0
 * @category constants
 */
export const chunkSize = 1_000

/**
 * What a bulk job carries: the action, the filter as wire fields, who asked.
 *
 * @since 0.2.0
 * @category models
 */
export type Payload = {
  readonly action: string
  readonly priority?: number
  readonly filter: { readonly [field: string]: string }
  readonly actor: string
}

/** A Standard Schema checked by `check` (which reports issues into the array it is given). */
const standard = <A>(check: (u: unknown, issues: Array<StandardSchemaV1.Issue>) => A): StandardSchemaV1<A, A> => ({
  "~standard": {
    version: 1,
    vendor: "jobtrack",
    validate: (u) => {
      const issues: Array<StandardSchemaV1.Issue> = []
      const value = check(u, issues)
      return issues.length === 0 ? { value } : { issues }
    }
  }
})

const record = (
  u: unknown,
  issues: Array<StandardSchemaV1.Issue>,
  path: ReadonlyArray<string> = []
): Readonly<Record<string, unknown>> => {
  if (typeof u === "object" && u !== null && !Array.isArray(u)) return u as Readonly<Record<string, unknown>>
  issues.push({ message: "Expected an object", path })
  return {}
}

const field = (
  o: Readonly<Record<string, unknown>>,
  key: string,
  type: "string" | "number",
  issues: Array<StandardSchemaV1.Issue>
) => {
  if (typeof o[key] !== type) issues.push({ message: `Expected a ${type}`, path: [key] })
}

/**
 * The payload's schema: a Standard Schema (an Effect Schema would load effect's
 * Schema module with the package, for a job only the console runs).
 *
 * @since 0.2.0
 * @category models
 */
export const Payload: StandardSchemaV1<Payload, Payload> = standard((u, issues) => {
  const o = record(u, issues)
  field(o, "action", "string", issues)
  field(o, "actor", "string", issues)
  if (o.priority !== undefined) field(o, "priority", "number", issues)
  const filter = record(o.filter, issues, ["filter"])
  for (const [k, v] of Object.entries(filter)) {
    if (typeof v !== "string") issues.push({ message: "Expected a string", path: ["filter", k] })
  }
  return o as unknown as Payload
})

/** The job's result: how many jobs the action changed and skipped. */
const Result = standard((u, issues) => {
  const o = record(u, issues)
  field(o, "applied", "number", issues)
  field(o, "skipped", "number", issues)
  return o as unknown as { readonly applied: number; readonly skipped: number }
})

/** Milliseconds encoded in a UUIDv7 job id. */
const idTime = (id: string): number => parseInt(id.replaceAll("-", "").slice(0, 12), 16)

/**
 * The definition the console's runner runs.
 *
 * @since 0.2.0
 * @category definitions
 */
export const definition = JobDefinition.make({
  type,
  queue,
  payload: Payload,
  result: Result,
  retry: RetryPolicy.exponential({ initial: "1 second", factor: 2, cap: "30 seconds", maxRetries: 5 }),
  handler: (payload, ctx) =>
    Effect.gen(function*() {
      const store = yield* JobStore
      const issues: Array<Issue> = []
      const filter = ConsoleInput.filter(payload.filter, issues)
      const action = ConsoleInput.action(payload as unknown as Readonly<Record<string, unknown>>, issues)
      if (issues.length > 0 || action === undefined) {
        return yield* Effect.fail(new Error(`invalid bulk request: ${issues.map((i) => i.message).join("; ")}`))
      }
      // progress: how far the chunks have got through the matching jobs' creation times
      const first = yield* store.adminList({ filter, sort: "createdAt", order: "asc", limit: 1 })
      const start = first.items[0]?.createdAt.getTime() ?? 0
      const end = filter.createdTo?.getTime() ?? Date.now()
      let applied = 0
      let skipped = 0
      let after: string | null = null
      do {
        const r: AdminStore.BulkChunkResult = yield* store.bulkChunk({ action, filter, after, limit: chunkSize })
        applied += r.applied
        skipped += r.skipped
        after = r.last
        const done = after === null ? 100 : Math.min(99, Math.max(0, ((idTime(after) - start) / Math.max(1, end - start)) * 100))
        yield* ctx.progress(done, `${applied} changed, ${skipped} skipped`)
      } while (after !== null)
      yield* store.recordAudit({
        actor: payload.actor,
        action: `bulk.${action._tag}.done`,
        target: { filter: payload.filter },
        count: applied,
        jobId: ctx.id
      })
      return { applied, skipped }
    })
})
