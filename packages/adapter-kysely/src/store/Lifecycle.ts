/**
 * The holder's writes on a claimed job, each fenced by its lease (job id,
 * token, still processing): heartbeat, progress, complete, completeMany,
 * fail, cancelled, release; and `recoverExpired` for leases nobody renewed.
 * Transitions into a terminal status record their hook deliveries in the
 * same statement (rule 12); `completeMany` runs its statement through the
 * `complete_many` function (migration 0019), planned once per connection.
 * The fixed-text writes (heartbeat, progress, complete, completeMany, fail)
 * are named prepared statements with named result columns (`Prepared.ts`).
 *
 * @since 0.2.0
 */
import { Effect } from "effect"
import { LeaseLost } from "@jobtrack/core"
import type { JobStoreShape } from "@jobtrack/core"
import { sql } from "../kyselyModule.js"
import { jobColumns, toRecord } from "../Rows.js"
import type { JobRow } from "../Rows.js"
import { held, holds, iso, now, prepared, preparedText, qualified, recording } from "./Context.js"
import type { StoreContext } from "./Context.js"
import type { Columns } from "./Positional.js"

/**
 * `complete_many`'s result by position: the ids completed (uuid).
 *
 * @internal
 */
export const completedColumns: Columns = { oids: [2950] }

/**
 * `completeMany`'s statement on `schema` (parameters: the completions as JSON, now).
 *
 * @internal
 */
export const completeManyStatement = (schema: string): string =>
  preparedText(`select completed as id from ${qualified(schema, "complete_many")}($1::jsonb, $2::timestamptz)`)

/**
 * @since 0.2.0
 * @category writes
 */
export const lifecycle = (
  ctx: StoreContext
): Pick<
  JobStoreShape,
  "heartbeat" | "progress" | "complete" | "completeMany" | "fail" | "cancelled" | "release" | "recoverExpired"
> => {
  const { jobs, run } = ctx
  // complete_many (migrations 0019, 0028): the update and its hook deliveries, planned once per connection;
  // its text written once per store, sent prepared with each call's parameters (Context.send, Prepared.ts)
  const completeManyText = completeManyStatement(ctx.schema)
  return {
    // heartbeat and progress: fixed texts with fixed result columns (never `returning *`, whose
    // type a migration adding a column would change under a prepared statement), sent prepared
    heartbeat: (lease, leaseMs) =>
      Effect.flatMap(now, (t) =>
        Effect.flatMap(
          run("heartbeat", prepared(sql<{ cancel_requested: boolean }>`
            update ${jobs} set locked_until = ${iso(t + leaseMs)}::timestamptz
            where ${holds(lease)} returning cancel_requested`)),
          (rows) =>
            rows.length > 0
              ? Effect.succeed({ cancelRequested: rows[0]!.cancel_requested })
              : Effect.fail(new LeaseLost({ id: lease.id, token: lease.token }))
        )),
    progress: (lease, progress, message) =>
      Effect.flatMap(now, (t) =>
        Effect.flatMap(
          run("progress", prepared(sql<{ id: string }>`
            update ${jobs} set progress = ${progress}, progress_message = ${message}, updated_at = ${iso(t)}::timestamptz
            where ${holds(lease)} returning id`)),
          (rows) => (rows.length > 0 ? Effect.void : Effect.fail(new LeaseLost({ id: lease.id, token: lease.token })))
        )),
    complete: (lease, result) =>
      Effect.flatMap(now, (t) =>
        held(ctx, lease, "complete", prepared(recording(ctx, sql<JobRow>`
          update ${jobs} set status = 'completed', result = ${JSON.stringify(result)}::jsonb, progress = 100,
            error_message = null, locked_by = null, locked_until = null, cancel_requested = false,
            completed_at = ${iso(t)}::timestamptz, updated_at = ${iso(t)}::timestamptz
          where ${holds(lease)} returning ${sql.raw(jobColumns)}`)))),
    completeMany: (items) =>
      items.length === 0
        ? Effect.succeed({ completed: [], refused: [] })
        : Effect.flatMap(now, (t) =>
          Effect.map(
            ctx.sendPositional<{ id: string }, string>(
              "completeMany",
              completeManyText,
              [JSON.stringify(items.map((i) => ({ id: i.lease.id, token: i.lease.token, result: i.result }))), iso(t)],
              completedColumns,
              (values) => values[0] as string,
              (row) => row.id
            ),
            (completed) => {
              // only the ids come back: the runner needs no more, and whole rows cost parsing per job
              const done = new Set(completed)
              return { completed, refused: items.flatMap((i) => (done.has(i.lease.id) ? [] : [i.lease])) }
            }
          )),
    fail: ({ message, retryAt, stack, ...lease }) =>
      Effect.flatMap(now, (t) => {
        const retry = retryAt === null ? null : retryAt.toISOString()
        return held(ctx, lease, "fail", prepared(recording(ctx, sql<JobRow>`
          update ${jobs} set
            status = case when ${retry}::timestamptz is null then 'failed' else 'retrying' end,
            error_message = ${message},
            errors = errors || jsonb_build_array(jsonb_build_object(
              'attempt', attempts, 'message', ${message}::text, 'at', ${iso(t)}::text,
              'startedAt', started_at, 'worker', locked_by, 'stack', ${stack ?? null}::text)),
            run_at = coalesce(${retry}::timestamptz, run_at),
            next_retry_at = ${retry}::timestamptz,
            completed_at = case when ${retry}::timestamptz is null then ${iso(t)}::timestamptz else null end,
            locked_by = null, locked_until = null, cancel_requested = false, updated_at = ${iso(t)}::timestamptz
          where ${holds(lease)} returning ${sql.raw(jobColumns)}`)))
      }),
    cancelled: (lease) =>
      Effect.flatMap(now, (t) =>
        held(ctx, lease, "cancelled", recording(ctx, sql<JobRow>`
          update ${jobs} set status = 'cancelled', locked_by = null, locked_until = null, cancel_requested = false,
            completed_at = ${iso(t)}::timestamptz, updated_at = ${iso(t)}::timestamptz
          where ${holds(lease)} returning *`))),
    release: (lease) =>
      Effect.flatMap(now, (t) =>
        held(ctx, lease, "release", recording(ctx, sql<JobRow>`
          update ${jobs} set
            status = case when cancel_requested then 'cancelled' else 'pending' end,
            completed_at = case when cancel_requested then ${iso(t)}::timestamptz else null end,
            attempts = attempts - 1, locked_by = null, locked_until = null, cancel_requested = false,
            updated_at = ${iso(t)}::timestamptz
          where ${holds(lease)} returning *`))),
    recoverExpired: () =>
      Effect.flatMap(now, (t) =>
        Effect.map(
          run("recoverExpired", recording(ctx, sql<JobRow>`
            update ${jobs} set
              error_message = 'worker lost: lease held by ' || coalesce(locked_by, '?') || ' expired',
              errors = errors || jsonb_build_array(jsonb_build_object('attempt', attempts,
                'message', 'worker lost: lease held by ' || coalesce(locked_by, '?') || ' expired',
                'at', ${iso(t)}::text, 'startedAt', started_at, 'worker', locked_by)),
              status = case when cancel_requested then 'cancelled'
                when attempts < max_attempts then 'retrying' else 'failed' end,
              run_at = case when not cancel_requested and attempts < max_attempts
                then ${iso(t)}::timestamptz else run_at end,
              next_retry_at = case when not cancel_requested and attempts < max_attempts
                then ${iso(t)}::timestamptz else null end,
              completed_at = case when cancel_requested or attempts >= max_attempts
                then ${iso(t)}::timestamptz else null end,
              locked_by = null, locked_until = null, cancel_requested = false, updated_at = ${iso(t)}::timestamptz
            where status = 'processing' and locked_until <= ${iso(t)}::timestamptz
            returning *`)),
          (rows) => rows.map(toRecord)
        ))
  }
}
