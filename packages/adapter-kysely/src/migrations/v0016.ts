/**
 * Migration 0016: one index fewer on every job's writes.
 *
 * `jobs_admin_created (created_at, id)` held every job once more than
 * `jobs_admin_status_created (status, created_at, id)` does, ordered by
 * creation only. Because `status` is indexed, each transition of a job is a
 * non-HOT update, so every full index on `jobs` takes an entry at the insert,
 * the claim and the completion: 3 of the console's 7 index entries per job
 * were this one's. The console's list by creation time now merges the
 * per-status ranges of `jobs_admin_status_created` (one ordered index scan
 * per status, `store/Admin.ts`), which serves the same keyset pages.
 *
 * Down restores the index.
 *
 * @since 0.2.0
 */
import { sql } from "../kyselyModule.js"
import type { Kysely } from "kysely"

/** @internal */
export const v0016 = (s: string): {
  readonly up: (db: Kysely<unknown>) => Promise<void>
  readonly down: (db: Kysely<unknown>) => Promise<void>
} => ({
  up: async (db) => {
    await sql.raw(`drop index if exists "${s}".jobs_admin_created;`).execute(db)
  },
  down: async (db) => {
    await sql.raw(`create index if not exists jobs_admin_created on "${s}".jobs (created_at, id);`).execute(db)
  }
})
