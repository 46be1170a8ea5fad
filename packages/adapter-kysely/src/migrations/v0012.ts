/**
 * Migration 0012: the operator console at a million jobs (issue 15, "Scale").
 *
 * - `series_rollup`: finished jobs summarized per minute and per quarter hour,
 *   per (queue, type), per queue, per type and overall (`scope` 0–3, the
 *   column not summed over set to ''): counts by outcome and log-scaled histograms of duration
 *   and queue wait (`AdminStore.binOf`), so a chart over a day reads a few
 *   thousand summary rows instead of every job that finished. `series_rolled`
 *   is the one-row state: the summarized minutes are `[lo, hi)`. Written by
 *   the chart reads themselves (`AdminSeries`), never by a job's own writes.
 * - `jobs_admin_status_created` again, now carrying queue, type and owner
 *   (`include`): the capped counts per status are index-only scans.
 * - A trigram index on the error text for the console's "text in the error"
 *   filter, when the database lets us `create extension pg_trgm` (a trusted
 *   extension in PostgreSQL 13+, but a host may forbid it, and PGlite only has
 *   it when loaded): otherwise the migration goes on without it and the
 *   filter scans, as before. Create it later by hand with the two statements
 *   in the `do` block.
 *
 * @since 0.2.0
 */
import { sql } from "../kyselyModule.js"
import type { Kysely } from "kysely"

/** @internal */
export const v0012 = (s: string): {
  readonly up: (db: Kysely<unknown>) => Promise<void>
  readonly down: (db: Kysely<unknown>) => Promise<void>
} => ({
  up: async (db) => {
    await sql.raw(`
      create table "${s}".series_rollup (
        width   integer not null,
        scope   smallint not null,
        at      timestamptz not null,
        queue   text not null,
        type    text not null,
        metric  smallint not null,
        bin     smallint not null,
        n       integer not null,
        primary key (width, scope, at, queue, type, metric, bin)
      );
      create table "${s}".series_rolled (
        one  boolean primary key default true check (one),
        lo   timestamptz not null,
        hi   timestamptz not null
      );
      drop index "${s}".jobs_admin_status_created;
      create index jobs_admin_status_created on "${s}".jobs (status, created_at, id) include (queue, type, owner);
      do $do$
      begin
        create extension if not exists pg_trgm;
        execute format('create index jobs_admin_error_trgm on %I.jobs using gin (error_message %I.gin_trgm_ops) where error_message is not null',
          '${s}', (select n.nspname from pg_extension e join pg_namespace n on n.oid = e.extnamespace where e.extname = 'pg_trgm'));
      exception when others then
        raise notice 'jobtrack: no trigram index on error text (%): the console''s error filter scans', sqlerrm;
      end
      $do$;
    `).execute(db)
  },
  down: async (db) => {
    await sql.raw(`
      drop index if exists "${s}".jobs_admin_error_trgm;
      drop index if exists "${s}".jobs_admin_status_created;
      create index jobs_admin_status_created on "${s}".jobs (status, created_at, id);
      drop table if exists "${s}".series_rolled;
      drop table if exists "${s}".series_rollup;
    `).execute(db)
  }
})
