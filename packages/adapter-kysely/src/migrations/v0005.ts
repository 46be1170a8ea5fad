/**
 * Migration 0005: telemetry. `jobs.traceparent` keeps the W3C trace context
 * of the span that enqueued a job, so each attempt's span joins that trace in
 * whatever process runs it (store rule 23). `job_logs` keeps the lines an
 * attempt wrote with `ctx.log` (rule 24), in order (`seq`), deleted with
 * their job.
 *
 * @since 0.2.0
 */
import { sql } from "../kyselyModule.js"
import type { Kysely } from "kysely"

/** @internal */
export const v0005 = (s: string): {
  readonly up: (db: Kysely<unknown>) => Promise<void>
  readonly down: (db: Kysely<unknown>) => Promise<void>
} => ({
  up: async (db) => {
    await sql.raw(`
      alter table "${s}".jobs add column traceparent text;

      create table "${s}".job_logs (
        job_id   uuid not null references "${s}".jobs (id) on delete cascade,
        seq      bigint generated always as identity,
        attempt  integer not null,
        at       timestamptz not null,
        level    text not null check (level in ('debug', 'info', 'warning', 'error')),
        message  text not null,
        fields   jsonb,
        primary key (job_id, seq)
      );
    `).execute(db)
  },
  down: async (db) => {
    await sql.raw(`
      drop table if exists "${s}".job_logs;
      alter table "${s}".jobs drop column if exists traceparent;
    `).execute(db)
  }
})
