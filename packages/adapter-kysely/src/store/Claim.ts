/**
 * Claim: the `claim` function of the migrations (SKIP LOCKED, group limits,
 * serialized per schema by an advisory lock), called once per claim.
 *
 * The claim reads back only the columns it did not write itself. What a
 * claim sets is known before it runs (status `processing`, the worker as
 * holder, the lease's end, the start and update times, no retry time, no
 * cancel request: `claimSet` of migration 0026/0031), so those fields of the
 * returned records are filled in here from the claim's own arguments, not
 * sent by the server and parsed by the worker: five timestamps and two more
 * columns per job fewer on the hottest read (issue 13, item 3). The
 * statement's text is written once per store and sent as a named prepared
 * statement with each call's parameters (`Context.send`, `Prepared.ts`): no
 * Kysely template compiled per claim; each claimed row becomes its record in
 * one step.
 *
 * @since 0.2.0
 */
import { Effect } from "effect"
import type { JobRecord, JobStoreShape } from "@jobtrack/core"
import { date, errorsOf, jobColumnNames } from "../Rows.js"
import type { JobRow } from "../Rows.js"
import { iso, now, preparedText, qualified } from "./Context.js"
import type { StoreContext } from "./Context.js"

/** The columns a claim writes, known before it runs. */
const written = ["status", "locked_by", "locked_until", "started_at", "next_retry_at", "cancel_requested", "updated_at"] as const

/** The columns a claim cannot know before it runs. */
type ClaimedRow = Omit<JobRow, typeof written[number]>

const claimedColumns = jobColumnNames.filter((c) => !(written as ReadonlyArray<string>).includes(c)).join(", ")

/**
 * A claimed row as its record, with the fields the claim wrote as `claim()`
 * sets them (`p_now`, `p_lease_ms`, `p_worker`); the rest as `toRecord` reads
 * them (the conformance rule "a claimed record is the job as stored" compares
 * the two).
 */
const claimed = (row: ClaimedRow, at: number, leaseMs: number, workerId: string): JobRecord => ({
  id: row.id,
  type: row.type,
  queue: row.queue,
  payload: row.payload,
  result: row.result,
  status: "processing",
  progress: Number(row.progress),
  progressMessage: row.progress_message,
  errorMessage: row.error_message,
  errors: errorsOf(row.errors),
  attempts: row.attempts,
  maxAttempts: row.max_attempts,
  priority: row.priority,
  runAt: date(row.run_at)!,
  owner: row.owner,
  key: row.key,
  groupKey: row.group_key,
  groupLimit: row.group_limit,
  lockedBy: workerId,
  lockedUntil: new Date(at + leaseMs),
  token: Number(row.token),
  cancelRequested: false,
  createdAt: date(row.created_at)!,
  startedAt: new Date(at),
  completedAt: date(row.completed_at),
  nextRetryAt: null,
  updatedAt: new Date(at),
  traceparent: row.traceparent ?? null
})

/**
 * @since 0.2.0
 * @category claims
 */
export const claim = (ctx: StoreContext): JobStoreShape["claim"] => {
  const text = preparedText(`select ${claimedColumns} from ${qualified(ctx.schema, "claim")}(`
    + `$1::text[], $2::text[], $3, $4, $5, $6::timestamptz)`)
  return ({ leaseMs, limit, queues, types, workerId }) =>
    limit <= 0
      ? Effect.succeed([])
      : Effect.flatMap(now, (t) => {
        const lease = Math.round(leaseMs)
        return Effect.map(
          ctx.send<ClaimedRow>("claim", text, [queues, types, workerId, limit, lease, iso(t)]),
          (rows) => rows.map((row) => claimed(row, t, lease, workerId))
        )
      })
}
