/**
 * Migration 0002: key dedupe is per owner. At most one live job per
 * (type, owner, key) — jobs without an owner count as one owner (NULLS NOT
 * DISTINCT, PostgreSQL 15 or later) — so an enqueue never answers with
 * another owner's job.
 *
 * Down restores the (type, key) index; it fails with a unique violation while
 * two owners have a live job with the same type and key.
 *
 * @since 0.1.0
 */
import { sql } from "../kyselyModule.js"
import type { Kysely } from "kysely"

const live = "('pending', 'processing', 'retrying')"

/** @internal */
export const v0002 = (s: string): {
  readonly up: (db: Kysely<unknown>) => Promise<void>
  readonly down: (db: Kysely<unknown>) => Promise<void>
} => ({
  up: async (db) => {
    await sql.raw(`
      drop index "${s}".jobs_live_key;
      create unique index jobs_live_key on "${s}".jobs (type, owner, key) nulls not distinct
        where key is not null and status in ${live};
    `).execute(db)
  },
  down: async (db) => {
    await sql.raw(`
      drop index "${s}".jobs_live_key;
      create unique index jobs_live_key on "${s}".jobs (type, key)
        where key is not null and status in ${live};
    `).execute(db)
  }
})
