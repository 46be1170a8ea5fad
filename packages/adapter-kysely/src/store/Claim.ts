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
 * statement is sent as a named prepared statement (`Prepared.ts`).
 *
 * @since 0.2.0
 */
import { Effect } from "effect"
import type { JobRecord, JobStoreShape } from "@jobtrack/core"
import { sql } from "../kyselyModule.js"
import { jobColumnNames, toRecord } from "../Rows.js"
import type { JobRow } from "../Rows.js"
import { iso, now, prepared } from "./Context.js"
import type { StoreContext } from "./Context.js"

/** The columns a claim writes, known before it runs. */
const written = ["status", "locked_by", "locked_until", "started_at", "next_retry_at", "cancel_requested", "updated_at"] as const

/** The columns a claim cannot know before it runs. */
type ClaimedRow = Omit<JobRow, typeof written[number]>

const claimedColumns = jobColumnNames.filter((c) => !(written as ReadonlyArray<string>).includes(c)).join(", ")

/** A claimed row with the fields the claim wrote, as `claim()` sets them (`p_now`, `p_lease_ms`, `p_worker`). */
const claimed = (row: ClaimedRow, at: number, leaseMs: number, workerId: string): JobRecord =>
  toRecord({
    ...row,
    status: "processing",
    locked_by: workerId,
    locked_until: new Date(at + leaseMs),
    started_at: new Date(at),
    next_retry_at: null,
    cancel_requested: false,
    updated_at: new Date(at)
  })

/**
 * @since 0.2.0
 * @category claims
 */
export const claim = (ctx: StoreContext): JobStoreShape["claim"] => ({ leaseMs, limit, queues, types, workerId }) =>
  limit <= 0
    ? Effect.succeed([])
    : Effect.flatMap(now, (t) => {
      const lease = Math.round(leaseMs)
      return Effect.map(
        ctx.run(
          "claim",
          prepared(sql<ClaimedRow>`select ${sql.raw(claimedColumns)} from ${sql.id(ctx.schema, "claim")}(${[...queues]}::text[],
            ${[...types]}::text[], ${workerId}, ${limit}, ${lease}, ${iso(t)}::timestamptz)`)
        ),
        (rows) => rows.map((row) => claimed(row, t, lease, workerId))
      )
    })
