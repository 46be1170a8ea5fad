/**
 * Migration 0021: one console index by queue and type instead of two.
 *
 * Migration 0018's `jobs_admin_type_created (type, status, created_at, id)`
 * and `jobs_admin_queue_created (queue, status, created_at, id)` gave every
 * type and every queue its own ranges per status, so the console's lists and
 * counts filtered by a rare type or queue stop at once. Both are full
 * indexes, and because `status` is indexed every transition of a job is a
 * non-HOT update: each took an entry at the insert, the claim and the
 * completion of every job (about half the WAL per processed job and 10–40 %
 * of a batch insert, docs/benchmarks.md "Migration 0018").
 *
 * `jobs_admin_queue_type_created (queue, type, status, created_at, id)
 * include (owner)` serves both filters with one entry per row version: a
 * filter on a queue reads the ranges of that queue's types, a filter on a
 * type the ranges of that type in each queue. The values are found by a
 * loose scan of the index's leading columns (one descent per distinct
 * queue, or per type of the queue), then each (queue, type, status) range is
 * an ordered scan stopped at the page or the count's cap
 * (`store/AdminFilter.ts` `ranges`, used by `store/AdminList.ts` and the
 * capped counts in `store/Admin.ts`).
 *
 * Down restores 0018's two indexes.
 *
 * @since 0.3.0
 */
import { sql } from "kysely"
import type { Kysely } from "kysely"

/** @internal */
export const v0021 = (s: string): {
  readonly up: (db: Kysely<unknown>) => Promise<void>
  readonly down: (db: Kysely<unknown>) => Promise<void>
} => ({
  up: async (db) => {
    await sql.raw(`
      drop index if exists "${s}".jobs_admin_type_created;
      drop index if exists "${s}".jobs_admin_queue_created;
      create index if not exists jobs_admin_queue_type_created on "${s}".jobs (queue, type, status, created_at, id) include (owner);
    `).execute(db)
  },
  down: async (db) => {
    await sql.raw(`
      drop index if exists "${s}".jobs_admin_queue_type_created;
      create index if not exists jobs_admin_type_created on "${s}".jobs (type, status, created_at, id) include (queue, owner);
      create index if not exists jobs_admin_queue_created on "${s}".jobs (queue, status, created_at, id) include (type, owner);
    `).execute(db)
  }
})
