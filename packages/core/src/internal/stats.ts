import { statuses } from "../Job.js"
import type { JobRecord, JobStatus } from "../Job.js"
import type { DurationStats, Stats, TypeStats } from "../JobStore.js"

/** Zero for every status. */
export const emptyCounts = (): Record<JobStatus, number> =>
  Object.fromEntries(statuses.map((s) => [s, 0])) as Record<JobStatus, number>

/** Nearest-rank percentile of sorted values. */
export const percentile = (sorted: ReadonlyArray<number>, p: number): number | null =>
  sorted.length === 0 ? null : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!

export const durationStats = (durations: ReadonlyArray<number>): DurationStats => {
  const sorted = [...durations].sort((a, b) => a - b)
  return {
    count: sorted.length,
    meanMs: sorted.length ? sorted.reduce((a, b) => a + b, 0) / sorted.length : null,
    p50Ms: percentile(sorted, 0.5),
    p95Ms: percentile(sorted, 0.95)
  }
}

export const successRate = (counts: Readonly<Record<JobStatus, number>>): number | null => {
  const settled = counts.completed + counts.failed
  return settled === 0 ? null : counts.completed / settled
}

/** Statistics over records (for stores that hold them in memory). */
export const computeStats = (jobs: ReadonlyArray<JobRecord>): Stats => {
  const byType = new Map<string, { counts: Record<JobStatus, number>; durations: Array<number> }>()
  const all = { counts: emptyCounts(), durations: [] as Array<number> }
  for (const job of jobs) {
    let entry = byType.get(job.type)
    if (!entry) byType.set(job.type, entry = { counts: emptyCounts(), durations: [] })
    entry.counts[job.status]++
    all.counts[job.status]++
    if (job.status === "completed" && job.startedAt && job.completedAt) {
      const d = job.completedAt.getTime() - job.startedAt.getTime()
      entry.durations.push(d)
      all.durations.push(d)
    }
  }
  const types: Array<TypeStats> = [...byType.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([type, e]) => ({
      type,
      counts: e.counts,
      successRate: successRate(e.counts),
      durations: durationStats(e.durations)
    }))
  return {
    counts: all.counts,
    successRate: successRate(all.counts),
    durations: durationStats(all.durations),
    byType: types
  }
}
