/**
 * Schedules on PostgreSQL (store rules S1–S3): the `schedules` table of
 * migration 0008. A tick fires in one statement: the conditional update of
 * the schedule's row (not paused, `last_tick_at` before the tick) and the
 * insert of the tick's job from it, so they commit together, and concurrent
 * processes racing for one tick are serialized by the row lock: the later
 * one re-checks the condition on the committed row and writes nothing.
 *
 * @since 0.2.0
 */
import { Clock, Effect } from "effect"
import { ScheduleNotFound } from "@jobtrack/core"
import type { NewJob, ScheduleState, ScheduleStoreShape, StoreError } from "@jobtrack/core"
import { sql } from "./kyselyModule.js"
import type { RawBuilder } from "kysely"
import { toRecord } from "./Rows.js"
import type { JobRow } from "./Rows.js"

/**
 * A row of `schedules` as the drivers return it.
 *
 * @since 0.2.0
 * @category models
 */
export interface ScheduleRow {
  readonly name: string
  readonly paused: boolean
  readonly last_tick_at: Date | string
  readonly last_job_id: string | null
  readonly updated_at: Date | string
}

const date = (d: Date | string): Date => (d instanceof Date ? d : new Date(d))

/**
 * @since 0.2.0
 * @category constructors
 */
export const toState = (row: ScheduleRow): ScheduleState => ({
  name: row.name,
  paused: row.paused,
  lastTickAt: date(row.last_tick_at),
  lastJobId: row.last_job_id,
  updatedAt: date(row.updated_at)
})

type Run = <R>(operation: string, query: RawBuilder<R>) => Effect.Effect<ReadonlyArray<R>, StoreError>

const iso = (d: Date | number) => (typeof d === "number" ? new Date(d) : d).toISOString()

/**
 * The store's schedule verbs.
 *
 * @since 0.2.0
 * @category constructors
 */
export const verbs = (schema: string, run: Run): ScheduleStoreShape => {
  const table = sql.id(schema, "schedules")
  const jobs = sql.id(schema, "jobs")
  /** The tick's job, inserted only when the update moved the schedule (`t` has a row). */
  const insertJob = (job: NewJob, at: string) => sql`
    insert into ${jobs} (id, type, queue, payload, max_attempts, priority, run_at, owner, key,
      group_key, group_limit, status, created_at, updated_at)
    select ${job.id}::uuid, ${job.type}, ${job.queue}, ${JSON.stringify(job.payload)}::jsonb, ${job.maxAttempts},
      ${job.priority}, ${iso(job.runAt)}::timestamptz, ${job.owner}, ${job.key}, ${job.groupKey}, ${job.groupLimit},
      'pending', ${at}::timestamptz, ${at}::timestamptz
    from t
    returning *`
  return {
    registerSchedule: (name, since) =>
      Effect.gen(function*() {
        const now = iso(yield* Clock.currentTimeMillis)
        // a concurrent first registration may commit after this statement's snapshot: read again
        for (let round = 0; round < 3; round++) {
          const rows = yield* run("registerSchedule", sql<ScheduleRow>`
            with ins as (
              insert into ${table} (name, paused, last_tick_at, updated_at)
              values (${name}, false, ${iso(since)}::timestamptz, ${now}::timestamptz)
              on conflict (name) do nothing
              returning *
            )
            select * from ins
            union all
            select * from ${table} where name = ${name} and not exists (select 1 from ins)`)
          if (rows.length > 0) return toState(rows[0]!)
        }
        const rows = yield* run("registerSchedule", sql<ScheduleRow>`select * from ${table} where name = ${name}`)
        return toState(rows[0]!)
      }),
    getSchedules: (names) =>
      names.length === 0
        ? Effect.succeed([])
        : Effect.map(
          run("getSchedules", sql<ScheduleRow>`select * from ${table} where name = any(${[...names]}::text[])`),
          (rows) => rows.map(toState)
        ),
    fireTick: ({ job, name, tick }) =>
      Effect.gen(function*() {
        const now = iso(yield* Clock.currentTimeMillis)
        const rows = yield* run("fireTick", sql<{ fired: number | string; job: JobRow | null }>`
          with t as (
            update ${table} set last_tick_at = ${iso(tick)}::timestamptz, last_job_id = ${job?.id ?? null}::uuid,
              updated_at = ${now}::timestamptz
            where name = ${name} and not paused and last_tick_at < ${iso(tick)}::timestamptz
            returning name
          )${job === null ? sql`` : sql`, j as (${insertJob(job, now)})`}
          select (select count(*) from t) as fired,
            ${job === null ? sql`null::jsonb` : sql`(select to_jsonb(j) from j)`} as job`)
        const row = rows[0]
        const fired = Number(row?.fired ?? 0) > 0
        return { fired, job: fired && row?.job ? toRecord(row.job) : null }
      }),
    setSchedulePaused: (name, paused, at) =>
      Effect.gen(function*() {
        const now = iso(yield* Clock.currentTimeMillis)
        const rows = yield* run("setSchedulePaused", sql<ScheduleRow>`
          update ${table} set
            last_tick_at = case when paused and not ${paused} and last_tick_at < ${iso(at)}::timestamptz
              then ${iso(at)}::timestamptz else last_tick_at end,
            updated_at = case when paused <> ${paused} then ${now}::timestamptz else updated_at end,
            paused = ${paused}
          where name = ${name}
          returning *`)
        if (rows.length === 0) return yield* new ScheduleNotFound({ name })
        return toState(rows[0]!)
      })
  }
}
