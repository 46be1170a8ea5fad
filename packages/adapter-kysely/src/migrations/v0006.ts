/**
 * Migration 0006: durable steps (store rules 21–22). One row per (job, step
 * name) with its place in the job's sequence, its status, tries, JSON result
 * and last error. Rows go with their job (`on delete cascade`: delete and
 * prune need no extra statement). A durable sleep is a job back in `pending`
 * with a later `run_at` (no new status), so the jobs table is unchanged.
 *
 * @since 0.2.0
 */
import { sql } from "../kyselyModule.js"
import type { Kysely } from "kysely"

/** @internal */
export const v0006 = (s: string): {
  readonly up: (db: Kysely<unknown>) => Promise<void>
  readonly down: (db: Kysely<unknown>) => Promise<void>
} => ({
  up: async (db) => {
    await sql.raw(`
      create table "${s}".job_steps (
        job_id        uuid not null references "${s}".jobs (id) on delete cascade,
        name          text not null,
        idx           integer not null check (idx >= 0),
        status        text not null check (status in ('running', 'completed', 'failed')),
        attempts      integer not null default 0,
        result        jsonb,
        error         text,
        started_at    timestamptz,
        completed_at  timestamptz,
        primary key (job_id, name)
      );
    `).execute(db)
  },
  down: async (db) => {
    await sql.raw(`
      drop table if exists "${s}".job_steps;
    `).execute(db)
  }
})
