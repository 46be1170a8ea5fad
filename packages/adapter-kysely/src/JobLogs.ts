/**
 * The store's attempt logs (core's `JobLogStore`, rule 24) on PostgreSQL:
 * the `job_logs` table of migration 0005. An append is one statement that
 * checks the holder (id, token, processing), inserts the lines in order and
 * trims the job's oldest lines past `maxLinesPerJob`.
 *
 * @since 0.2.0
 */
import { Effect } from "effect"
import { JobId, JobLogStore, JobNotFound, LeaseLost } from "@jobtrack/core"
import type { JobLogStoreShape, LogLevel, LogLine, StoreError } from "@jobtrack/core"
import { sql } from "./kyselyModule.js"
import type { RawBuilder } from "kysely"

type Run = <R>(operation: string, query: RawBuilder<R>) => Effect.Effect<ReadonlyArray<R>, StoreError>

interface LogRow {
  readonly job_id: string
  readonly attempt: number | null
  readonly at: Date | string | null
  readonly level: LogLevel | null
  readonly message: string | null
  readonly fields: Record<string, unknown> | null
}

/**
 * The store's log verbs.
 *
 * @since 0.2.0
 * @category constructors
 */
export const verbs = (schema: string, run: Run): JobLogStoreShape => {
  const jobs = sql.id(schema, "jobs")
  const logs = sql.id(schema, "job_logs")
  return {
    appendLogs: (lease, all) => {
      if (!JobId.isValid(lease.id)) return Effect.fail(new LeaseLost(lease))
      const lines = all.slice(-JobLogStore.maxLinesPerJob)
      const holder = sql`select id from ${jobs} where id = ${lease.id}::uuid and token = ${lease.token} and status = 'processing'`
      if (lines.length === 0) {
        return Effect.flatMap(run("appendLogs", sql<{ id: string }>`${holder}`), (rows) =>
          rows.length > 0 ? Effect.void : Effect.fail(new LeaseLost(lease)))
      }
      // the trim reads the rows as they were before this insert: keep the newest (max - new) of them
      const keep = JobLogStore.maxLinesPerJob - lines.length
      return Effect.flatMap(
        run("appendLogs", sql<{ held: string }>`
          with holder as (${holder}),
          added as (
            insert into ${logs} (job_id, attempt, at, level, message, fields)
            select h.id, x.attempt, x.at, x.level, x.message, x.fields
            from holder h,
              unnest(${lines.map((l) => l.attempt)}::integer[], ${lines.map((l) => l.at.toISOString())}::timestamptz[],
                ${lines.map((l) => l.level)}::text[], ${lines.map((l) => l.message)}::text[],
                ${lines.map((l) => (l.fields === null ? null : JSON.stringify(l.fields)))}::jsonb[])
                with ordinality as x(attempt, at, level, message, fields, ord)
            order by x.ord
            returning 1
          ),
          trimmed as (
            delete from ${logs} l
            where l.job_id in (select id from holder) and l.seq <= (
              select o.seq from ${logs} o where o.job_id = ${lease.id}::uuid
              order by o.seq desc offset ${keep} limit 1
            )
            returning 1
          )
          select count(*) as held from holder`),
        (rows) => (Number(rows[0]?.held ?? 0) > 0 ? Effect.void : Effect.fail(new LeaseLost(lease)))
      )
    },
    logs: (id) =>
      JobId.isValid(id)
        ? Effect.flatMap(
          run("logs", sql<LogRow>`
            select j.id as job_id, l.attempt, l.at, l.level, l.message, l.fields
            from ${jobs} j left join ${logs} l on l.job_id = j.id
            where j.id = ${id}::uuid
            order by l.seq`),
          (rows) =>
            rows.length === 0
              ? Effect.fail(new JobNotFound({ id }))
              : Effect.succeed(rows.flatMap((r): Array<LogLine> =>
                r.attempt === null ? [] : [{
                  attempt: r.attempt,
                  at: r.at instanceof Date ? r.at : new Date(r.at!),
                  level: r.level!,
                  message: r.message!,
                  fields: r.fields
                }]
              ))
        )
        : Effect.fail(new JobNotFound({ id }))
  }
}
