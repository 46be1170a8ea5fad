/**
 * Migration 0003: hook deliveries (store rules 12–15), the outbox a terminal
 * transition writes into in the same statement. Any process with the hook
 * claims rows (SKIP LOCKED) and deletes them once delivered; `job` is the job
 * row as the transition left it. A statement-level trigger announces new
 * deliveries on the schema's channel (kind `hook`).
 *
 * @since 0.1.0
 */
import { sql } from "../kyselyModule.js"
import type { Kysely } from "kysely"

/** @internal */
export const v0003 = (s: string): {
  readonly up: (db: Kysely<unknown>) => Promise<void>
  readonly down: (db: Kysely<unknown>) => Promise<void>
} => ({
  up: async (db) => {
    await sql.raw(`
      create table "${s}".hook_deliveries (
        id            uuid primary key,
        job_id        uuid not null,
        type          text not null,
        event         text not null check (event in ('completed', 'failed', 'cancelled')),
        job           jsonb not null,
        status        text not null default 'pending' check (status in ('pending', 'delivering', 'dead')),
        attempts      integer not null default 0,
        token         integer not null default 0,
        locked_by     text,
        -- pending: the next attempt; delivering: the lease's end
        available_at  timestamptz not null,
        last_error    text,
        created_at    timestamptz not null
      );
      create index hook_deliveries_claim on "${s}".hook_deliveries (available_at, id) where status <> 'dead';
      create index hook_deliveries_created_at on "${s}".hook_deliveries (created_at);

      -- one notification per statement and (type, event), so a batch of completions is one
      create function "${s}".notify_hook() returns trigger language plpgsql as $fn$
      declare r record;
      begin
        for r in select type, event, min(job_id::text) as id, min(job->>'queue') as queue
          from inserted group by type, event loop
          perform pg_notify('jobtrack:${s}', json_build_object(
            'i', r.id, 't', r.type, 'q', r.queue, 'k', 'hook', 's', r.event)::text);
        end loop;
        return null;
      end $fn$;
      create trigger hook_deliveries_notify after insert on "${s}".hook_deliveries
        referencing new table as inserted for each statement execute function "${s}".notify_hook();
    `).execute(db)
  },
  down: async (db) => {
    await sql.raw(`
      drop table if exists "${s}".hook_deliveries;
      drop function if exists "${s}".notify_hook();
    `).execute(db)
  }
})
