/**
 * Migration 0037: the claim and the batched completion never plan a
 * sequential scan of `jobs`, whatever the statistics said when they were
 * planned.
 *
 * Since 0028 both run on generic plans, made once per connection. A
 * connection whose first claim ran while the statistics said `jobs` was empty
 * (a new deployment, a runner started on an empty queue after a `vacuum
 * analyze`) planned the claim's head reads as a sequential scan of the whole
 * table and kept that plan until the next ANALYZE: with 3,000 pending jobs
 * each head read took 0.79 ms and 62 buffers instead of 0.023 ms and 3 (the
 * scale-out probe of session 7). Issue 13 asks for a claim whose cost does
 * not depend on planner statistics. Both functions now run with
 * `enable_seqscan = off` beside their other settings (the claim's
 * `enable_bitmapscan = off` since 0014 and `plan_cache_mode` since 0028):
 * every statement in them reads `jobs` by `jobs_claim` or by primary key,
 * which the plan tests check (`hotPathPlan`, `claimPlan`,
 * `emptyTablePlan`). `alter function … set` changes no function's text, so
 * processes still running an older release get it too, at their next
 * connection.
 *
 * A later migration that redefines either function with `create or replace`
 * drops these settings (as 0028 says): it must keep them in its definition.
 *
 * Down resets the setting.
 *
 * @since 0.2.0
 */
import { sql } from "../kyselyModule.js"
import type { Kysely } from "kysely"

const functions = (s: string) => [
  `"${s}".claim(text[], text[], text, integer, integer, timestamptz)`,
  `"${s}".complete_many(jsonb, timestamptz)`
]

/** @internal */
export const v0037 = (s: string): {
  readonly up: (db: Kysely<unknown>) => Promise<void>
  readonly down: (db: Kysely<unknown>) => Promise<void>
} => ({
  up: async (db) => {
    for (const f of functions(s)) await sql.raw(`alter function ${f} set enable_seqscan = off`).execute(db)
  },
  down: async (db) => {
    for (const f of functions(s)) await sql.raw(`alter function ${f} reset enable_seqscan`).execute(db)
  }
})
