/**
 * An operator's filter (`AdminStore.AdminFilter`) as a SQL condition over
 * `jobs`, shared by the console's lists, counts, charts and bulk actions.
 * Text in the error is an `ilike` (`%` and `_` are plain text), which the
 * trigram index of migration 0012 serves where the database has pg_trgm.
 *
 * @since 0.2.0
 */
import { JobId } from "@jobtrack/core"
import type { AdminStore, JobStatus } from "@jobtrack/core"
import { sql } from "../kyselyModule.js"
import type { RawBuilder } from "kysely"

/**
 * A request's page size or cap: a whole number from 1 to `max` (1 when it is
 * not a finite number).
 *
 * @since 0.2.0
 * @category sql
 */
export const clampLimit = (n: number, max: number): number =>
  Math.min(Math.max(Number.isFinite(n) ? Math.floor(n) : 1, 1), max)

/** `%`, `_` and `\` match themselves in ILIKE. */
const escapeLike = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`)

/**
 * The filter as a WHERE condition.
 *
 * @since 0.2.0
 * @category sql
 */
export const condition = (f: AdminStore.AdminFilter): RawBuilder<unknown> => {
  const w: Array<RawBuilder<unknown>> = [sql`true`]
  if (f.ids !== undefined) w.push(sql`id = any(${f.ids.filter(JobId.isValid)}::uuid[])`)
  if (f.owner !== undefined) w.push(f.owner === null ? sql`owner is null` : sql`owner = ${f.owner}`)
  if (f.status !== undefined) w.push(sql`status = any(${[...f.status]}::text[])`)
  if (f.type !== undefined) w.push(sql`type = ${f.type}`)
  if (f.queue !== undefined) w.push(sql`queue = ${f.queue}`)
  if (f.key !== undefined) w.push(sql`key = ${f.key}`)
  if (f.createdFrom !== undefined) w.push(sql`created_at >= ${f.createdFrom.toISOString()}::timestamptz`)
  if (f.createdTo !== undefined) w.push(sql`created_at < ${f.createdTo.toISOString()}::timestamptz`)
  if (f.finishedFrom !== undefined) w.push(sql`completed_at >= ${f.finishedFrom.toISOString()}::timestamptz`)
  if (f.finishedTo !== undefined) w.push(sql`completed_at < ${f.finishedTo.toISOString()}::timestamptz`)
  if (f.errorContains !== undefined) w.push(sql`error_message ilike ${`%${escapeLike(f.errorContains)}%`}`)
  return sql.join(w, sql` and `)
}

/**
 * The statuses off a job's usual path (a failure, a retry, a cancel), each
 * a range of `jobs_admin_off_path (status, created_at, id) include (queue,
 * type, owner) where status in ('retrying', 'failed', 'cancelled')`
 * (migration 0025), which a job that is enqueued, runs and completes never
 * enters. The console reads these statuses from it when the filter names
 * neither a queue nor a type.
 *
 * @since 0.2.0
 * @category sql
 */
export const offPath: ReadonlyArray<JobStatus> = ["retrying", "failed", "cancelled"]

/**
 * How the console reads the jobs of one status, newest or oldest first:
 * `"offPath"` as one range of `jobs_admin_off_path`, `"pairs"` as one range
 * per (queue, type) of `jobs_admin_queue_type_created` (migrations 0021 and
 * 0025). With a queue or a type every status is read by pairs (few of them
 * hold the value).
 *
 * @since 0.2.0
 * @category sql
 */
export const rangeOf = (status: JobStatus, f: Pick<AdminStore.AdminFilter, "queue" | "type">): "offPath" | "pairs" =>
  f.queue === undefined && f.type === undefined && offPath.includes(status) ? "offPath" : "pairs"

/**
 * A `with recursive` clause defining `pairs(queue, type)`, the (queue, type)
 * values whose ranges of `jobs_admin_queue_type_created (queue, type,
 * status, created_at, id)` (migration 0021) hold every job the filter can
 * match. A queue and a type: that pair. A type: the queues that hold it, found by a loose scan of the
 * index's first column (one descent per distinct queue, and one more to
 * check it holds the type; a type is usually in its definition's one queue).
 * A queue: that queue's types, by a loose scan of its range. Neither: every
 * pair, by a loose scan of both columns (one descent per pair, and one per
 * queue). The index keys queue and type in the collation "C" (so that no
 * other statement can read it, migration 0021): these statements, and the
 * ranges read per pair, compare in it.
 *
 * @since 0.2.0
 * @category sql
 */
export const pairs = (jobs: RawBuilder<unknown>, f: Pick<AdminStore.AdminFilter, "queue" | "type">): RawBuilder<unknown> => {
  if (f.queue !== undefined && f.type !== undefined) {
    return sql`with pairs(queue, type) as (select ${f.queue}::text collate "C", ${f.type}::text collate "C")`
  }
  if (f.type !== undefined) {
    return sql`with recursive queues(queue) as (
        (select queue collate "C" from ${jobs} order by queue collate "C" limit 1)
        union all
        select (select j.queue collate "C" from ${jobs} j where j.queue collate "C" > q.queue
          order by j.queue collate "C" limit 1)
        from queues q where q.queue is not null
      ), pairs(queue, type) as (
        select q.queue, ${f.type}::text collate "C" from queues q
        where q.queue is not null
          and exists (select 1 from ${jobs} j where j.queue collate "C" = q.queue and j.type collate "C" = ${f.type})
      )`
  }
  if (f.queue !== undefined) {
    return sql`with recursive types(type) as (
        (select type collate "C" from ${jobs} where queue collate "C" = ${f.queue} order by type collate "C" limit 1)
        union all
        select (select j.type collate "C" from ${jobs} j where j.queue collate "C" = ${f.queue}
          and j.type collate "C" > t.type order by j.type collate "C" limit 1)
        from types t where t.type is not null
      ), pairs(queue, type) as (select ${f.queue}::text collate "C", type from types where type is not null)`
  }
  // the next pair after (queue, type): the next type of the queue, else the first of the next queue
  return sql`with recursive pairs(queue, type) as (
      (select queue collate "C", type collate "C" from ${jobs}
        order by queue collate "C", type collate "C" limit 1)
      union all
      select n.queue, n.type from pairs p cross join lateral (
        (select queue collate "C", type collate "C" from ${jobs}
          where queue collate "C" = p.queue and type collate "C" > p.type
          order by queue collate "C", type collate "C" limit 1)
        union all
        (select queue collate "C", type collate "C" from ${jobs} where queue collate "C" > p.queue
          order by queue collate "C", type collate "C" limit 1)
        limit 1
      ) n
    )`
}
