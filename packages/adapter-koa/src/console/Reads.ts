/**
 * The console's reads, over every owner's jobs: the overview (counts, the
 * oldest waiting job of each queue, the running jobs), the charts' series,
 * the job list, one job with its logs and steps, and the audit trail.
 *
 * @since 0.2.0
 */
import { Effect } from "effect"
import { Job, JobId } from "@jobtrack/core"
import type { Issue, JobStoreShape, JobSummary } from "@jobtrack/core"
import type { ConsoleApi } from "../ConsoleApi.js"
import * as ConsoleInput from "../ConsoleInput.js"
import { error } from "../HttpError.js"
import * as RunningWatches from "../RunningWatches.js"
import { invalid, run } from "./Answer.js"
import type { Query } from "./Answer.js"

/** The filter fields the overview and the charts take: owner (or no_owner), queue, type. */
const scopeFields: ReadonlyArray<string> = ["owner", "no_owner", "queue", "type"]

/** The overview's or the charts' filter; any field but `scopeFields` and `also` is an issue naming it. */
const scope = (query: Query, issues: Array<Issue>, also: ReadonlyArray<string> = []) => {
  ConsoleInput.unknownFields(query, [...scopeFields, ...also], issues)
  const only: Record<string, string | undefined> = {}
  for (const k of scopeFields) if (query[k] !== undefined) only[k] = query[k]
  const f = ConsoleInput.filter(only, issues)
  return { ...(f.owner !== undefined ? { owner: f.owner } : {}), ...(f.queue ? { queue: f.queue } : {}), ...(f.type ? { type: f.type } : {}) }
}

/**
 * A job as a list item: its summary (the store reads no payload, result or
 * attempt errors for a page; a store that returns them anyway has them left
 * out). The job's own view, `GET /api/jobs/:id`, has them.
 */
const listItem = (job: JobSummary): JobSummary => Job.summary(job)

/**
 * @since 0.2.0
 * @category handlers
 */
export const reads = (store: JobStoreShape): Pick<ConsoleApi, "overview" | "series" | "list" | "get" | "audit"> => ({
  overview: (query, _op) => {
    const issues: Array<Issue> = []
    const filter = scope(query, issues)
    if (issues.length > 0) return Promise.resolve(invalid(issues))
    return run(
      Effect.all({
        counts: store.adminCounts({ filter }),
        oldest: store.oldestWaiting(filter),
        running: store.adminList({
          filter: { ...filter, status: ["processing"] },
          sort: "createdAt",
          order: "asc",
          limit: RunningWatches.cap
        })
      }, { concurrency: 3 }),
      ({ counts, oldest, running }) => ({
        status: 200,
        body: {
          counts: counts.rows,
          cap: counts.cap,
          oldest_waiting: oldest,
          running: running.items.map(listItem),
          running_more: running.next !== null
        }
      })
    )
  },

  series: (query, _op) => {
    const issues: Array<Issue> = []
    const filter = scope(query, issues, ["range"])
    const range = query.range ?? "hour"
    if (range !== "hour" && range !== "day") issues.push({ path: ["range"], message: "Expected hour or day" })
    if (issues.length > 0) return Promise.resolve(invalid(issues))
    const [span, bucketMs] = range === "hour" ? [3_600_000, 60_000] : [86_400_000, 900_000]
    return run(
      Effect.flatMap(Effect.clockWith((c) => c.currentTimeMillis), (now) => {
        const to = Math.ceil((now + 1) / bucketMs) * bucketMs
        return store.series({ filter, from: new Date(to - span), to: new Date(to), bucketMs })
      }),
      // `partial`: some bucket counts only some of its jobs (the store's summary is catching up)
      (buckets) => ({ status: 200, body: { range, bucket_ms: bucketMs, buckets, partial: buckets.some((b) => b.partial === true) } })
    )
  },

  list: (query, _op) => {
    const req = ConsoleInput.listRequest(query)
    if (!req.ok) return Promise.resolve(invalid(req.issues))
    return run(store.adminList(req.value), (page) => ({
      status: 200,
      body: { items: page.items.map(listItem), next_cursor: page.next ? ConsoleInput.encodeCursor(page.next) : null }
    }))
  },

  get: (id, _op) =>
    JobId.isValid(id)
      ? run(
        Effect.all({
          job: store.view(id),
          // the attempt logs (`ctx.log`) and durable steps, where the store keeps them
          logs: store.logs(id).pipe(Effect.orElseSucceed(() => [])),
          steps: store.steps(id).pipe(Effect.orElseSucceed(() => []))
        }),
        ({ job, logs, steps }) => ({ status: 200, body: { ...job, logs, steps } })
      )
      : Promise.resolve(error(404, "not_found", "job not found")),

  audit: (query, _op) => {
    const limit = query.limit === undefined ? 50 : Number(query.limit)
    const issues: Array<Issue> = []
    ConsoleInput.unknownFields(query, ["limit", "before"], issues)
    if (!Number.isInteger(limit) || limit < 1 || limit > 500) issues.push({ path: ["limit"], message: "Expected an integer between 1 and 500" })
    if (query.before !== undefined && !JobId.isValid(query.before)) issues.push({ path: ["before"], message: "Expected a cursor returned by a previous page" })
    if (issues.length > 0) return Promise.resolve(invalid(issues))
    return run(store.listAudit({ limit, before: query.before }), (page) => ({
      status: 200,
      body: { items: page.items, next_cursor: page.next }
    }))
  }
})
