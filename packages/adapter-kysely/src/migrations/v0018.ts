/**
 * Migration 0018: the console's lists and counts filtered by type or by
 * queue find a rare value at once.
 *
 * The list by creation time and the capped per-status counts read
 * `jobs_admin_status_created (status, created_at, id)` one status range at a
 * time; a filter on type or queue was checked on each entry (from the
 * index's include columns), so a value with few jobs, or none, read every
 * entry of the index: 0.15–0.3 s at 1,000,000 jobs. These two indexes give
 * each (type, status) and each (queue, status) its own range in creation
 * order, so the same statements (one ordered range per status, merged) stop
 * after a page whatever the value's share; the planner picks them when the
 * filter names a type or a queue. Their include columns keep a filter on the
 * other of the two, or on owner, to the index alone.
 *
 * Each is a full index on `jobs`: because `status` is indexed, every
 * transition is a non-HOT update, so each takes an entry at the insert, the
 * claim and the completion (measured in `docs/benchmarks.md`).
 *
 * Down drops them.
 *
 * @since 0.2.0
 */
import { sql } from "../kyselyModule.js"
import type { Kysely } from "kysely"

/** @internal */
export const v0018 = (s: string): {
  readonly up: (db: Kysely<unknown>) => Promise<void>
  readonly down: (db: Kysely<unknown>) => Promise<void>
} => ({
  up: async (db) => {
    await sql.raw(
      `create index if not exists jobs_admin_type_created on "${s}".jobs (type, status, created_at, id) include (queue, owner);`
    ).execute(db)
    await sql.raw(
      `create index if not exists jobs_admin_queue_created on "${s}".jobs (queue, status, created_at, id) include (type, owner);`
    ).execute(db)
  },
  down: async (db) => {
    await sql.raw(`drop index if exists "${s}".jobs_admin_type_created;`).execute(db)
    await sql.raw(`drop index if exists "${s}".jobs_admin_queue_created;`).execute(db)
  }
})
