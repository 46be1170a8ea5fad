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
 * Kysely template compiled per claim. On `postgres()`'s pool its rows are
 * read by position (`Positional.ts`): no row description per claim, no row
 * object per job; each row's fields become its record in one step.
 *
 * @since 0.2.0
 */
import { Effect } from "effect"
import type { JobRecord, JobStoreShape } from "@jobtrack/core"
import { date, errorsOf, jobColumnNames } from "../Rows.js"
import type { JobRow } from "../Rows.js"
import { iso, now, preparedText, qualified } from "./Context.js"
import type { StoreContext } from "./Context.js"
import type { Columns } from "./Positional.js"

/** The columns a claim writes, known before it runs. */
const written = ["status", "locked_by", "locked_until", "started_at", "next_retry_at", "cancel_requested", "updated_at"] as const

/** The columns a claim cannot know before it runs. */
type ClaimedRow = Omit<JobRow, typeof written[number]>

const claimedNames = jobColumnNames.filter((c) => !(written as ReadonlyArray<string>).includes(c))

const claimedColumns = claimedNames.join(", ")

/** The type of each column of `jobs` the claim reads (migrations; `positional.test.ts` checks them). */
const oids: Record<Exclude<keyof JobRow, typeof written[number]>, number> = {
  id: 2950, // uuid
  type: 25,
  queue: 25,
  payload: 3802, // jsonb
  result: 3802,
  progress: 701, // double precision
  progress_message: 25,
  error_message: 25,
  errors: 3802,
  attempts: 23, // integer
  max_attempts: 23,
  priority: 23,
  run_at: 1184, // timestamptz
  owner: 25,
  key: 25,
  group_key: 25,
  group_limit: 23,
  token: 23,
  created_at: 1184,
  completed_at: 1184,
  traceparent: 25
}

/**
 * The claim's result columns by position.
 *
 * @internal
 */
export const claimColumns: Columns = { oids: claimedNames.map((c) => oids[c as keyof typeof oids]) }

/** A claimed row's values by position (`claimColumns`), as the row `claimed` reads. */
const C = Object.fromEntries(claimedNames.map((c, i) => [c, i])) as Record<keyof typeof oids, number>

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
 * The claim's statement on `schema` (parameters: queues, types, worker, limit, lease ms, now).
 *
 * @internal
 */
export const claimText = (schema: string): string =>
  preparedText(`select ${claimedColumns} from ${qualified(schema, "claim")}(`
    + `$1::text[], $2::text[], $3, $4, $5, $6::timestamptz)`)

/** `claimed` from a row's values by position: the same record, no row object. */
const claimedValues = (v: Array<unknown>, at: number, leaseMs: number, workerId: string): JobRecord => ({
  id: v[C.id] as string,
  type: v[C.type] as string,
  queue: v[C.queue] as string,
  payload: v[C.payload] as JobRow["payload"],
  result: v[C.result] as JobRow["result"],
  status: "processing",
  progress: Number(v[C.progress]),
  progressMessage: v[C.progress_message] as string | null,
  errorMessage: v[C.error_message] as string | null,
  errors: errorsOf(v[C.errors] as JobRow["errors"]),
  attempts: v[C.attempts] as number,
  maxAttempts: v[C.max_attempts] as number,
  priority: v[C.priority] as number,
  runAt: date(v[C.run_at] as Date)!,
  owner: v[C.owner] as string | null,
  key: v[C.key] as string | null,
  groupKey: v[C.group_key] as string | null,
  groupLimit: v[C.group_limit] as number | null,
  lockedBy: workerId,
  lockedUntil: new Date(at + leaseMs),
  token: Number(v[C.token]),
  cancelRequested: false,
  createdAt: date(v[C.created_at] as Date)!,
  startedAt: new Date(at),
  completedAt: date(v[C.completed_at] as Date | null),
  nextRetryAt: null,
  updatedAt: new Date(at),
  traceparent: (v[C.traceparent] as string | null) ?? null
})

/**
 * @since 0.2.0
 * @category claims
 */
export const claim = (ctx: StoreContext): JobStoreShape["claim"] => {
  const text = claimText(ctx.schema)
  return ({ leaseMs, limit, queues, types, workerId }) =>
    limit <= 0
      ? Effect.succeed([])
      : Effect.flatMap(now, (t) => {
        const lease = Math.round(leaseMs)
        return ctx.sendPositional<ClaimedRow, JobRecord>(
          "claim",
          text,
          [queues, types, workerId, limit, lease, iso(t)],
          claimColumns,
          (values) => claimedValues(values, t, lease, workerId),
          (row) => claimed(row, t, lease, workerId)
        )
      })
}
