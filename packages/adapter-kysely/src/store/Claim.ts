/**
 * Claim: the `claim` function of the migrations (SKIP LOCKED, group limits,
 * serialized per schema by an advisory lock), called once per claim.
 *
 * @since 0.2.0
 */
import { Effect } from "effect"
import type { JobStoreShape } from "@jobtrack/core"
import { sql } from "../kyselyModule.js"
import { toRecord } from "../Rows.js"
import type { JobRow } from "../Rows.js"
import { iso, now } from "./Context.js"
import type { StoreContext } from "./Context.js"

/**
 * @since 0.2.0
 * @category claims
 */
export const claim = (ctx: StoreContext): JobStoreShape["claim"] => ({ leaseMs, limit, queues, types, workerId }) =>
  limit <= 0
    ? Effect.succeed([])
    : Effect.flatMap(now, (t) =>
      Effect.map(
        ctx.run(
          "claim",
          sql<JobRow>`select * from ${sql.id(ctx.schema, "claim")}(${[...queues]}::text[], ${[...types]}::text[],
            ${workerId}, ${limit}, ${Math.round(leaseMs)}, ${iso(t)}::timestamptz)`
        ),
        (rows) => rows.map(toRecord)
      ))
