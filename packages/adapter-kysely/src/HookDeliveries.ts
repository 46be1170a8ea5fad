/**
 * Hook deliveries on PostgreSQL (store rules 12–15): the `hook_deliveries`
 * outbox table of migration 0002. A transition into a terminal status records
 * its delivery in the same statement ({@link recording}: the update and the
 * insert are one statement, so they commit or roll back together); claims
 * lock rows with SKIP LOCKED, so concurrent processes never hold the same
 * delivery; a new delivery is announced by a statement-level trigger.
 *
 * @since 0.1.0
 */
import { Clock, Effect } from "effect"
import { JobId, LeaseLost } from "@jobtrack/core"
import type { HookDeliveryRecord, HookEvent, JobStoreShape, StoreError } from "@jobtrack/core"
import { sql } from "./kyselyModule.js"
import type { RawBuilder } from "kysely"
import { toRecord } from "./Rows.js"
import type { JobRow } from "./Rows.js"

/**
 * A row of `hook_deliveries` as the drivers return it.
 *
 * @since 0.1.0
 * @category models
 */
export interface DeliveryRow {
  readonly id: string
  readonly job_id: string
  readonly type: string
  readonly event: HookEvent
  /** `to_jsonb` of the job row: times are ISO strings here. */
  readonly job: JobRow
  readonly status: HookDeliveryRecord["status"]
  readonly attempts: number
  readonly token: number
  readonly locked_by: string | null
  readonly available_at: Date | string
  readonly last_error: string | null
  readonly created_at: Date | string
}

const date = (d: Date | string): Date => (d instanceof Date ? d : new Date(d))

/**
 * @since 0.1.0
 * @category constructors
 */
export const toDelivery = (row: DeliveryRow): HookDeliveryRecord => ({
  id: row.id,
  jobId: row.job_id,
  type: row.type,
  event: row.event,
  job: toRecord(row.job),
  status: row.status,
  attempts: row.attempts,
  token: Number(row.token),
  lockedBy: row.locked_by,
  availableAt: date(row.available_at),
  lastError: row.last_error,
  createdAt: date(row.created_at)
})

/**
 * Wrap a job update (`… returning *`) so that every row it moves into a
 * terminal status records its hook delivery in the same statement (rule 12),
 * when some process subscribed to its (type, event) (`hook_subscriptions`,
 * migration 0004): a host without hooks writes no outbox row.
 * The result is the update's rows.
 *
 * @since 0.1.0
 * @category combinators
 */
export const recording = (schema: string, update: RawBuilder<JobRow>): RawBuilder<JobRow> =>
  recordingThen(schema, update, sql`select * from moved`)

/**
 * `recording`, answering with `answer` (a select from `moved`, the updated rows)
 * instead of the whole rows: e.g. only their ids, when the caller needs no more.
 *
 * @since 0.1.0
 * @category combinators
 */
export const recordingThen = <R>(schema: string, update: RawBuilder<JobRow>, answer: RawBuilder<unknown>): RawBuilder<R> => sql<R>`
  with moved as (${update}), recorded as (
    insert into ${sql.id(schema, "hook_deliveries")} (id, job_id, type, event, job, available_at, created_at)
    select gen_random_uuid(), m.id, m.type, m.status, to_jsonb(m), m.updated_at, m.updated_at
    from moved m where m.status in ('completed', 'failed', 'cancelled')
      and exists (select 1 from ${sql.id(schema, "hook_subscriptions")} s where s.type = m.type and s.event = m.status)
  )
  ${answer}`

type Run = <R>(operation: string, query: RawBuilder<R>) => Effect.Effect<ReadonlyArray<R>, StoreError>

const iso = (ms: number) => new Date(ms).toISOString()

/**
 * The store's delivery verbs.
 *
 * @since 0.1.0
 * @category constructors
 */
export const verbs = (
  schema: string,
  run: Run
): Pick<JobStoreShape, "subscribeHooks" | "claimDeliveries" | "deliveryDone" | "deliveryFailed" | "listDeliveries"> => {
  const table = sql.id(schema, "hook_deliveries")
  const lost = (id: string, token: number) => new LeaseLost({ id, token })
  return {
    subscribeHooks: ({ events, types }) =>
      events.length === 0 || types.length === 0
        ? Effect.void
        : Effect.asVoid(run("subscribeHooks", sql`
          insert into ${sql.id(schema, "hook_subscriptions")} (type, event)
          select t, e from unnest(${[...types]}::text[]) t, unnest(${[...events]}::text[]) e
          on conflict (type, event) do nothing`)),
    claimDeliveries: ({ events, leaseMs, limit, types, workerId }) =>
      limit <= 0 || events.length === 0 || types.length === 0
        ? Effect.succeed([])
        : Effect.flatMap(Clock.currentTimeMillis, (t) =>
          Effect.map(
            run("claimDeliveries", sql<DeliveryRow>`
              with chosen as (
                select id from ${table}
                where status <> 'dead' and available_at <= ${iso(t)}::timestamptz
                  and type = any(${[...types]}::text[]) and event = any(${[...events]}::text[])
                order by available_at, id
                limit ${limit}
                for update skip locked
              )
              update ${table} d set status = 'delivering', attempts = d.attempts + 1, token = d.token + 1,
                locked_by = ${workerId}, available_at = ${iso(t + leaseMs)}::timestamptz
              from chosen where d.id = chosen.id
              returning d.*`),
            (rows) => rows.map(toDelivery).sort((a, b) => (a.createdAt.getTime() - b.createdAt.getTime()) || (a.id < b.id ? -1 : 1))
          )),
    deliveryDone: ({ id, token }) =>
      JobId.isValid(id)
        ? Effect.flatMap(
          run("deliveryDone", sql<{ id: string }>`
            delete from ${table} where id = ${id}::uuid and token = ${token} and status = 'delivering' returning id`),
          (rows) => (rows.length > 0 ? Effect.void : Effect.fail(lost(id, token)))
        )
        : Effect.fail(lost(id, token)),
    deliveryFailed: ({ id, message, retryAt, token }) => {
      if (!JobId.isValid(id)) return Effect.fail(lost(id, token))
      const retry = retryAt === null ? null : retryAt.toISOString()
      return Effect.flatMap(
        run("deliveryFailed", sql<DeliveryRow>`
          update ${table} set
            status = case when ${retry}::timestamptz is null then 'dead' else 'pending' end,
            available_at = coalesce(${retry}::timestamptz, available_at),
            locked_by = null, last_error = ${message}
          where id = ${id}::uuid and token = ${token} and status = 'delivering'
          returning *`),
        (rows) => (rows.length > 0 ? Effect.succeed(toDelivery(rows[0]!)) : Effect.fail(lost(id, token)))
      )
    },
    listDeliveries: (filter) => {
      if (filter.jobId !== undefined && !JobId.isValid(filter.jobId)) return Effect.succeed([])
      const where = [sql`true`]
      if (filter.jobId !== undefined) where.push(sql`job_id = ${filter.jobId}::uuid`)
      if (filter.status !== undefined) where.push(sql`status = any(${[...filter.status]}::text[])`)
      const limit = Math.min(Math.max(filter.limit ?? 100, 1), 500)
      return Effect.map(
        run("listDeliveries", sql<DeliveryRow>`
          select * from ${table} where ${sql.join(where, sql` and `)} order by created_at, id limit ${limit}`),
        (rows) => rows.map(toDelivery)
      )
    }
  }
}

/**
 * Delete deliveries recorded before `before` (dead ones, and ones no process
 * has a hook for), in batches like the jobs.
 *
 * @since 0.1.0
 * @category combinators
 */
export const prune = (schema: string, run: Run, before: Date): Effect.Effect<void, StoreError> =>
  Effect.gen(function*() {
    const table = sql.id(schema, "hook_deliveries")
    while (true) {
      const rows = yield* run("prune", sql<{ n: string | number }>`
        with gone as (
          delete from ${table} where id in (
            select id from ${table} where created_at < ${before.toISOString()}::timestamptz limit 10000
          ) returning 1
        ) select count(*) as n from gone`)
      if (Number(rows[0]?.n ?? 0) < 10000) return
    }
  })
