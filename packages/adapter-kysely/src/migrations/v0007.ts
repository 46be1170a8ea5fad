/**
 * Migration 0007: the operator console (store rules 16–20). The audit trail
 * table, and the indexes that keep the console's reads bounded on a large
 * jobs table: keyset pages by creation time (overall and per status; the
 * per-status one also bounds the capped counts) and by finish time (pages
 * and the charts' time series).
 *
 * @since 0.2.0
 */
import { sql } from "../kyselyModule.js"
import type { Kysely } from "kysely"

/** @internal */
export const v0007 = (s: string): {
  readonly up: (db: Kysely<unknown>) => Promise<void>
  readonly down: (db: Kysely<unknown>) => Promise<void>
} => ({
  up: async (db) => {
    await sql.raw(`
      create table "${s}".audit (
        id      uuid primary key,
        at      timestamptz not null,
        actor   text not null,
        action  text not null,
        target  jsonb not null,
        count   bigint,
        job_id  uuid
      );
      create index jobs_admin_created on "${s}".jobs (created_at, id);
      create index jobs_admin_status_created on "${s}".jobs (status, created_at, id);
      create index jobs_admin_finished on "${s}".jobs (completed_at, id) where completed_at is not null;
    `).execute(db)
  },
  down: async (db) => {
    await sql.raw(`
      drop index if exists "${s}".jobs_admin_finished;
      drop index if exists "${s}".jobs_admin_status_created;
      drop index if exists "${s}".jobs_admin_created;
      drop table if exists "${s}".audit;
    `).execute(db)
  }
})
