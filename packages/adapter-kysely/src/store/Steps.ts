/**
 * Durable steps on PostgreSQL (store rules 21–22): the `job_steps` table of
 * migration 0006. Each holder's write is one statement that first locks the
 * job row if, and only if, the lease is still held (`for share`: a concurrent
 * claim waits for it, and a claim that committed first makes the row fail the
 * check), so a stale worker never records a step. A durable sleep moves the
 * job and records its step in one statement, with the hook delivery when a
 * cancel request turns it into `cancelled` (rule 12).
 *
 * @since 0.2.0
 */
import { Effect } from "effect"
import { JobId, LeaseLost } from "@jobtrack/core"
import type { Json, Lease, StepInfo, StepKey, StepRecord, StepStatus, StepStoreShape, StoreError } from "@jobtrack/core"
import { sql } from "../kyselyModule.js"
import type { RawBuilder } from "kysely"
import { toRecord } from "../Rows.js"
import type { JobRow } from "../Rows.js"
import { iso, now } from "./Context.js"
import type { StoreContext } from "./Context.js"

/**
 * A row of `job_steps` as the drivers return it.
 *
 * @since 0.2.0
 * @category models
 */
export interface StepRow {
  readonly job_id: string
  readonly name: string
  readonly idx: number
  readonly status: StepStatus
  readonly attempts: number
  readonly result: Json | null
  readonly error: string | null
  readonly started_at: Date | string | null
  readonly completed_at: Date | string | null
}

const date = (d: Date | string | null): Date | null => (d === null ? null : d instanceof Date ? d : new Date(d))

const info = (row: StepRow): StepInfo => ({
  name: row.name,
  index: row.idx,
  status: row.status,
  attempts: row.attempts,
  error: row.error,
  startedAt: date(row.started_at),
  completedAt: date(row.completed_at)
})

/**
 * @since 0.2.0
 * @category constructors
 */
export const toStep = (row: StepRow): StepRecord => ({ ...info(row), jobId: row.job_id, result: row.result })

/**
 * The view's steps from the `steps` column of `view_row` (migration 0017): a
 * JSON array of the job's steps without results.
 *
 * @since 0.2.0
 * @category constructors
 */
export const fromViewColumn = (value: unknown): ReadonlyArray<StepInfo> =>
  Array.isArray(value) ? (value as Array<Omit<StepRow, "job_id" | "result">>).map((r) => info({ ...r, job_id: "", result: null })) : []

/**
 * The store's step verbs.
 *
 * @since 0.2.0
 * @category constructors
 */
export const steps = (ctx: StoreContext): StepStoreShape => {
  const { jobs, run, schema } = ctx
  const table = sql.id(schema, "job_steps")
  const lost = (lease: Lease) => new LeaseLost({ id: lease.id, token: lease.token })
  /** The job row, locked against a concurrent claim, only while the lease is held. */
  const held = (lease: Lease) =>
    sql`select id from ${jobs} where id = ${lease.id}::uuid and token = ${lease.token} and status = 'processing' for share`

  /** Upsert the step if the lease is held: `values` for a new row, `set` for an existing one. */
  const write = (
    operation: string,
    lease: Lease,
    key: StepKey,
    values: { status: StepStatus; attempts: number; result: Json | null; error: string | null; started: string | null; completed: string | null },
    set: RawBuilder<unknown>
  ): Effect.Effect<StepRecord, LeaseLost | StoreError> =>
    !JobId.isValid(lease.id)
      ? Effect.fail(lost(lease))
      : Effect.flatMap(
        run(operation, sql<StepRow>`
          with held as (${held(lease)})
          insert into ${table} as s (job_id, name, idx, status, attempts, result, error, started_at, completed_at)
          select held.id, ${key.name}, ${key.index}, ${values.status}, ${values.attempts},
            ${values.result === null ? null : JSON.stringify(values.result)}::jsonb, ${values.error},
            ${values.started}::timestamptz, ${values.completed}::timestamptz
          from held
          on conflict (job_id, name) do update set idx = excluded.idx, ${set}
          returning *`),
        (rows) => (rows.length > 0 ? Effect.succeed(toStep(rows[0]!)) : Effect.fail(lost(lease)))
      )

  return {
    steps: (jobId) =>
      JobId.isValid(jobId)
        ? Effect.map(
          run("steps", sql<StepRow>`select * from ${table} where job_id = ${jobId}::uuid order by idx`),
          (rows) => rows.map(toStep)
        )
        : Effect.succeed([]),
    stepStarted: (lease, key) =>
      Effect.flatMap(now, (t) =>
        write("stepStarted", lease, key, {
          status: "running", attempts: 1, result: null, error: null, started: iso(t), completed: null
        }, sql`status = 'running', attempts = s.attempts + 1, started_at = excluded.started_at, completed_at = null`)),
    stepCompleted: (lease, key, result) =>
      Effect.flatMap(now, (t) =>
        write("stepCompleted", lease, key, {
          status: "completed", attempts: 1, result, error: null, started: iso(t), completed: iso(t)
        }, sql`status = 'completed', result = excluded.result, error = null, completed_at = excluded.completed_at`)),
    stepFailed: (lease, key, message) =>
      Effect.flatMap(now, (t) =>
        write("stepFailed", lease, key, {
          status: "failed", attempts: 1, result: null, error: message, started: iso(t), completed: null
        }, sql`status = 'failed', error = excluded.error`)),
    sleep: (lease, key, until) =>
      !JobId.isValid(lease.id)
        ? Effect.fail(lost(lease))
        : Effect.flatMap(now, (t) =>
          Effect.flatMap(
            run("sleep", sql<JobRow>`
              with moved as (
                update ${jobs} set
                  status = case when cancel_requested then 'cancelled' else 'pending' end,
                  attempts = attempts - 1,
                  run_at = case when cancel_requested then run_at else ${until.toISOString()}::timestamptz end,
                  completed_at = case when cancel_requested then ${iso(t)}::timestamptz else completed_at end,
                  locked_by = null, locked_until = null, cancel_requested = false, updated_at = ${iso(t)}::timestamptz
                where id = ${lease.id}::uuid and token = ${lease.token} and status = 'processing'
                returning *
              ), recorded as (
                -- rule 12: a cancelled job's hook delivery, as HookDeliveries.recording writes it
                insert into ${sql.id(schema, "hook_deliveries")} (id, job_id, type, event, job, available_at, created_at)
                select gen_random_uuid(), m.id, m.type, m.status, to_jsonb(m), m.updated_at, m.updated_at
                from moved m where m.status = 'cancelled'
              ), stepped as (
                insert into ${table} as s (job_id, name, idx, status, attempts, result, started_at, completed_at)
                select m.id, ${key.name}, ${key.index}, 'completed', 1,
                  ${JSON.stringify({ until: until.toISOString() })}::jsonb, ${iso(t)}::timestamptz, ${iso(t)}::timestamptz
                from moved m
                on conflict (job_id, name) do update set status = 'completed', idx = excluded.idx,
                  result = excluded.result, completed_at = excluded.completed_at
              )
              select * from moved`),
            (rows) => (rows.length > 0 ? Effect.succeed(toRecord(rows[0]!)) : Effect.fail(lost(lease)))
          ))
  }
}
