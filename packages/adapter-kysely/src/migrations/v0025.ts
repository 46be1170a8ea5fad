/**
 * Migration 0025: no console index of every job's status (issue 13, item 3:
 * the database's share of a job).
 *
 * No update of a job is HOT (`status` is in the partial indexes'
 * predicates), so every transition inserts an entry in every index whose
 * predicate the new row version satisfies. Before this migration a no-op job
 * without owner or key took 12: at the insert the primary key, `jobs_claim`
 * and the two console indexes; at the claim the primary key,
 * `jobs_processing` and the two console indexes again; at the completion the
 * primary key, `jobs_admin_finished` and the two console indexes. Now it
 * takes 9 (3 at each step).
 *
 * `jobs_admin_status_created (status, created_at, id) include (queue, type,
 * owner)` (migration 0012), which every job entered at each of the three,
 * is replaced by `jobs_admin_off_path`, the same keys for the statuses off a
 * job's usual path only (`retrying`, `failed`, `cancelled`): a job that is
 * enqueued, runs and completes never enters it. The console's lists and
 * counts of pending, running and completed jobs without a queue or type read
 * one range per (queue, type, status) of `jobs_admin_queue_type_created`
 * (migration 0021) instead, the pairs found by a loose scan of its two
 * leading columns, as lists and counts by queue or type have since migration
 * 0021 (`store/AdminFilter.ts` `pairs`, `rangeOf`).
 *
 * Not done: `jobs_admin_queue_type_created` could leave out the running jobs
 * (`where status <> 'processing'`), saving the claim's entry, if the console
 * read them from `jobs_processing`; that index carries neither queue, type
 * nor creation time, so a list would read and sort every running job's row
 * (34 ms for 20,000 running jobs spread over a 1,000,000-row table, against
 * under 1 ms for a range), docs/benchmarks.md "Index write cost (session 5)".
 *
 * The price, once: building the new index reads the whole table (it sorts
 * only the jobs off the usual path) under a lock that blocks writes to
 * `jobs`; the migrator runs in one transaction, where `create index
 * concurrently` is impossible. It is created `if not exists`, so an operator
 * with a large table may build it beforehand, concurrently
 * (docs/operations.md).
 *
 * Down restores 0012's index.
 *
 * @since 0.2.0
 */
import { sql } from "../kyselyModule.js"
import type { Kysely } from "kysely"

/** @internal */
export const v0025 = (s: string): {
  readonly up: (db: Kysely<unknown>) => Promise<void>
  readonly down: (db: Kysely<unknown>) => Promise<void>
} => ({
  up: async (db) => {
    await sql.raw(`
      create index if not exists jobs_admin_off_path on "${s}".jobs (status, created_at, id) include (queue, type, owner)
        where status in ('retrying', 'failed', 'cancelled');
      drop index if exists "${s}".jobs_admin_status_created;
    `).execute(db)
  },
  down: async (db) => {
    await sql.raw(`
      create index if not exists jobs_admin_status_created on "${s}".jobs (status, created_at, id) include (queue, type, owner);
      drop index if exists "${s}".jobs_admin_off_path;
    `).execute(db)
  }
})
