/**
 * Migration 0009: a year of finished jobs costs the live ones as little as
 * it can in one table (issue 13, item 1).
 *
 * - `jobs_completed_at` goes: it held the same rows as 0007's
 *   `jobs_admin_finished (completed_at, id) where completed_at is not null`
 *   (a job has a `completed_at` exactly while it is completed, failed or
 *   cancelled), so every completion wrote two index entries for one purpose.
 *   Prune reads `jobs_admin_finished` now.
 * - Autovacuum of `jobs` is started by churn, not by size: PostgreSQL's
 *   defaults vacuum a table once 20 % of it is dead, so with 10,000,000
 *   finished rows the 20,000 dead row versions that every 10,000 processed
 *   jobs leave would pile up to 2,000,000 (a million jobs) before the first
 *   vacuum. With a scale factor of 0 a vacuum follows every 20,000 dead rows
 *   (and every 100,000 inserted rows, which marks the history all-visible for
 *   index-only reads), whatever the history; such a vacuum visits the pages
 *   that changed and skips the index passes while few pages have dead rows,
 *   so it stays small. A host may set other values with `alter table`.
 *
 * Down restores the index and PostgreSQL's defaults.
 *
 * @since 0.2.0
 */
import { sql } from "../kyselyModule.js"
import type { Kysely } from "kysely"

const vacuumOptions = [
  "autovacuum_vacuum_scale_factor",
  "autovacuum_vacuum_threshold",
  "autovacuum_vacuum_insert_scale_factor",
  "autovacuum_vacuum_insert_threshold"
]

/** @internal */
export const v0009 = (s: string): {
  readonly up: (db: Kysely<unknown>) => Promise<void>
  readonly down: (db: Kysely<unknown>) => Promise<void>
} => ({
  up: async (db) => {
    await sql.raw(`
      drop index if exists "${s}".jobs_completed_at;
      alter table "${s}".jobs set (
        autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 20000,
        autovacuum_vacuum_insert_scale_factor = 0, autovacuum_vacuum_insert_threshold = 100000
      );
    `).execute(db)
  },
  down: async (db) => {
    await sql.raw(`
      alter table "${s}".jobs reset (${vacuumOptions.join(", ")});
      create index if not exists jobs_completed_at on "${s}".jobs (completed_at)
        where status in ('completed', 'failed', 'cancelled');
    `).execute(db)
  }
})
