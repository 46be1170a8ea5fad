/**
 * The admin verbs ({@link AdminStoreShape}) of the memory store, over its
 * map of records. Actions on existing transitions (retry, cancel, delete) go
 * through the store's own verbs, so their rules (key dedupe, hook
 * deliveries, announcements) hold unchanged; runNow and setPriority change
 * the record in place, and runNow announces the job as `enqueued` (claimable
 * at once, rule 11). A priority change makes no job claimable: not announced.
 *
 * @since 0.2.0
 */
import { Clock, Effect } from "effect"
import { appliesTo, bucketWidth, matches } from "./AdminStore.js"
import type { AdminAction, AdminStoreShape, AuditEntry, OldestWaiting, SeriesBucket, StatusCount } from "./AdminStore.js"
import { isClaimable, isTerminal, statuses, summary } from "./Job.js"
import type { JobRecord, JobSummary } from "./Job.js"
import * as JobId from "./JobId.js"
import type { JobStoreShape } from "./JobStore.js"
import * as SeriesHistogram from "./SeriesHistogram.js"

type Mutable<T> = { -readonly [K in keyof T]: T[K] }
type Base = Pick<JobStoreShape, "retry" | "cancel" | "delete">

const clampLimit = (n: number, max: number) => Math.min(Math.max(Number.isFinite(n) ? Math.floor(n) : 1, 1), max)

/**
 * @since 0.2.0
 * @category constructors
 */
export const verbs = (
  jobs: Map<string, Mutable<JobRecord>>,
  /** The store's own verbs (read when an action runs). */
  base: () => Base,
  /** Announce a job claimable at once as `enqueued` (rule 11). */
  enqueued: (job: JobRecord) => void
): AdminStoreShape => {
  const audit: Array<AuditEntry> = []
  const sortValue = (job: JobSummary, sort: "createdAt" | "completedAt" | "runAt") =>
    sort === "completedAt" ? job.completedAt?.getTime() ?? null : job[sort].getTime()
  const cmpId = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)

  const apply = (action: AdminAction, job: Mutable<JobRecord>, now: number): Effect.Effect<boolean> => {
    const ok = <A, E>(e: Effect.Effect<A, E>) => Effect.map(Effect.result(e), (r) => r._tag === "Success")
    switch (action._tag) {
      case "retry":
        return ok(base().retry(job.id))
      case "cancel":
        return ok(base().cancel(job.id))
      case "delete":
        return ok(base().delete(job.id))
      case "runNow":
        // a due job is claimable already: it keeps its place in the claim order (skipped, not announced)
        if (job.runAt.getTime() <= now) return Effect.succeed(false)
        job.runAt = new Date(now)
        if (job.status === "retrying") job.nextRetryAt = new Date(now)
        job.updatedAt = new Date(now)
        enqueued(job)
        return Effect.succeed(true)
      case "setPriority":
        job.priority = action.priority
        job.updatedAt = new Date(now)
        return Effect.succeed(true)
    }
  }

  return {
    adminList: ({ cursor, filter, limit, order, sort }) =>
      Effect.sync(() => {
        const n = clampLimit(limit, 500)
        const dir = order === "asc" ? 1 : -1
        const rows = [...jobs.values()]
          .filter((job) => matches(filter, job) && sortValue(job, sort) !== null)
          .filter((job) => {
            if (cursor === undefined) return true
            const v = sortValue(job, sort)!
            const c = cursor.at.getTime()
            return dir * (v - c) > 0 || (v === c && dir * cmpId(job.id, cursor.id) > 0)
          })
          .sort((a, b) => dir * (sortValue(a, sort)! - sortValue(b, sort)! || cmpId(a.id, b.id)))
        // summaries: no payload, result or errors (rule 16)
        const items = rows.slice(0, n).map(summary)
        const last = items[items.length - 1]
        return {
          items,
          next: rows.length > n && last ? { at: new Date(sortValue(last, sort)!), id: last.id } : null
        }
      }),
    adminCounts: ({ cap, filter }) =>
      Effect.sync(() => {
        const limit = clampLimit(cap ?? 10_000, 1_000_000)
        const rows: Array<StatusCount> = []
        for (const status of statuses) {
          const by = new Map<string, { queue: string; type: string; n: number }>()
          let total = 0
          for (const job of jobs.values()) {
            if (job.status !== status || !matches(filter, job)) continue
            // like a store that counts `limit + 1` rows: one past the cap says "capped"
            if (total++ > limit) break
            const k = JSON.stringify([job.queue, job.type])
            const e = by.get(k) ?? { queue: job.queue, type: job.type, n: 0 }
            e.n++
            by.set(k, e)
          }
          for (const e of by.values()) rows.push({ queue: e.queue, type: e.type, status, count: e.n, capped: total > limit })
        }
        rows.sort((a, b) => cmpId(a.queue, b.queue) || cmpId(a.type, b.type) || statuses.indexOf(a.status) - statuses.indexOf(b.status))
        return { rows, cap: limit }
      }),
    oldestWaiting: (filter) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const oldest = new Map<string, JobRecord>()
        for (const job of jobs.values()) {
          if (!isClaimable(job, now) || !matches(filter, job)) continue
          const o = oldest.get(job.queue)
          if (!o || job.runAt < o.runAt || (job.runAt.getTime() === o.runAt.getTime() && job.id < o.id)) {
            oldest.set(job.queue, job)
          }
        }
        return [...oldest.values()]
          .sort((a, b) => cmpId(a.queue, b.queue))
          .map((j): OldestWaiting => ({ queue: j.queue, since: j.runAt, id: j.id }))
      }),
    series: (request) =>
      Effect.sync(() => {
        const width = bucketWidth(request)
        const from = request.from.getTime()
        const count = Math.max(0, Math.ceil((request.to.getTime() - from) / width))
        const buckets = Array.from({ length: count }, () => ({
          completed: 0,
          failed: 0,
          cancelled: 0,
          durations: new Map<number, number>(),
          waits: new Map<number, number>()
        }))
        for (const job of jobs.values()) {
          if (!isTerminal(job.status) || job.completedAt === null || !matches(request.filter, job)) continue
          const t = job.completedAt.getTime()
          if (t < from || t >= request.to.getTime()) continue
          const b = buckets[Math.floor((t - from) / width)]
          if (!b) continue
          b[job.status as "completed" | "failed" | "cancelled"]++
          if (job.startedAt !== null && job.status !== "cancelled") {
            SeriesHistogram.add(b.durations, t - job.startedAt.getTime())
            SeriesHistogram.add(b.waits, job.startedAt.getTime() - job.runAt.getTime())
          }
        }
        return buckets.map((b, i): SeriesBucket => {
          const d = b.durations
          const w = b.waits
          return {
            start: new Date(from + i * width),
            completed: b.completed,
            failed: b.failed,
            cancelled: b.cancelled,
            durationP50Ms: SeriesHistogram.percentile(d, 0.5),
            durationP95Ms: SeriesHistogram.percentile(d, 0.95),
            waitP50Ms: SeriesHistogram.percentile(w, 0.5),
            waitP95Ms: SeriesHistogram.percentile(w, 0.95)
          }
        })
      }),
    bulkChunk: ({ action, after, filter, limit }) =>
      Effect.gen(function*() {
        const n = clampLimit(limit, 5_000)
        const valid = appliesTo(action)
        const chunk = [...jobs.values()]
          .filter((job) => (after === null || job.id > after) && valid.includes(job.status) && matches(filter, job))
          .sort((a, b) => cmpId(a.id, b.id))
          .slice(0, n)
        const now = yield* Clock.currentTimeMillis
        let applied = 0
        for (const job of chunk) if (yield* apply(action, job, now)) applied++
        return {
          applied,
          skipped: chunk.length - applied,
          last: chunk.length < n ? null : chunk[chunk.length - 1]!.id
        }
      }),
    recordAudit: (entry) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const full: AuditEntry = { ...entry, id: JobId.make(now), at: new Date(now) }
        audit.push(full)
        return full
      }),
    listAudit: ({ before, limit }) =>
      Effect.sync(() => {
        const n = clampLimit(limit, 500)
        const rows = audit
          .filter((e) => before === undefined || e.id < before)
          .sort((a, b) => cmpId(b.id, a.id))
        const items = rows.slice(0, n)
        return { items, next: rows.length > n ? items[items.length - 1]!.id : null }
      })
  }
}
