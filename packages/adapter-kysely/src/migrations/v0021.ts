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
 * include (owner)` (queue and type in collation "C", below) serves both filters with one entry per row version: a
 * filter on a queue reads the ranges of that queue's types, a filter on a
 * type the ranges of that type in each queue. The values are found by a
 * loose scan of the index's leading columns (one descent per distinct
 * queue, or per type of the queue), then each (queue, type, status) range is
 * an ordered scan stopped at the page or the count's cap
 * (`store/AdminFilter.ts` `ranges`, used by `store/AdminList.ts` and the
 * capped counts in `store/Admin.ts`).
 *
 * The index's `queue` and `type` are keyed in the collation "C", which no
 * other statement names: the claim's first read (`queue = … and type =
 * any(…) and status in (pending, retrying)`, in the columns' own collation)
 * cannot use it. Keyed in the columns' collation, it could: with a large
 * history and column statistics from before the backlog, the planner read
 * the claimable jobs from it and sorted the whole backlog at every claim
 * (docs/benchmarks.md, "A regression at 1,000,000 on main at 79a68bc"). The
 * console's statements compare `queue collate "C"` and `type collate "C"`
 * (equality is the same in every deterministic collation; the loose scan's
 * order is byte order).
 *
 * Down restores 0018's two indexes.
 *
 * @since 0.2.0
 */
import { sql } from "../kyselyModule.js"
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
      create index if not exists jobs_admin_queue_type_created on "${s}".jobs
        (queue collate "C", type collate "C", status, created_at, id) include (owner);
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
