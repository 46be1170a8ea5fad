/**
 * The memory store's reads of jobs: one by id, the newest of a key, a page
 * of a filtered list (newest first, by id cursor), and the stats.
 */
import { Effect } from "effect"
import * as Job from "../../Job.js"
import type { JobRecord } from "../../Job.js"
import { JobNotFound } from "../../JobError.js"
import type { JobStoreShape, Stats } from "../../JobStore.js"
import { computeStats } from "../stats.js"
import { find, snapshot } from "./State.js"
import type { State } from "./State.js"

export const reads = (state: State): Pick<JobStoreShape, "get" | "findByKey" | "list" | "stats"> => ({
  get: (id) => find(state, id).pipe(Effect.map(snapshot)),
  findByKey: (type, key) =>
    Effect.suspend(() => {
      let newest: JobRecord | undefined
      for (const job of state.jobs.values()) {
        if (job.type === type && job.key === key && (!newest || job.id > newest.id)) newest = job
      }
      return newest ? Effect.succeed(snapshot(newest)) : Effect.fail(new JobNotFound({ id: `${type}:${key}` }))
    }),
  list: (filter) =>
    Effect.sync(() => {
      const limit = Math.min(Math.max(filter.limit ?? 50, 1), 500)
      const items = [...state.jobs.values()]
        .filter((job) =>
          (filter.owner === undefined || job.owner === filter.owner) &&
          (filter.status === undefined || filter.status.includes(job.status)) &&
          (filter.type === undefined || job.type === filter.type) &&
          (filter.key === undefined || job.key === filter.key) &&
          (filter.queue === undefined || job.queue === filter.queue) &&
          (filter.excludeQueue === undefined || job.queue !== filter.excludeQueue) &&
          (filter.cursor === undefined || job.id < filter.cursor)
        )
        .sort((a, b) => (a.id < b.id ? 1 : -1))
      // summaries: a page carries no payload, result or errors (rule 10)
      const page = items.slice(0, limit).map(Job.summary)
      return { items: page, nextCursor: items.length > limit ? page[page.length - 1]!.id : null }
    }),
  stats: (filter) =>
    Effect.sync((): Stats =>
      computeStats(
        [...state.jobs.values()].filter((job) =>
          (filter.owner === undefined || job.owner === filter.owner) &&
          (filter.type === undefined || job.type === filter.type) &&
          (filter.excludeQueue === undefined || job.queue !== filter.excludeQueue)
        )
      )
    )
})
