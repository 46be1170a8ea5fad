/**
 * Migration 0008: cron schedules' state (store rules S1–S3). One row per
 * schedule name: paused or not, and the latest tick it reached. A tick fires
 * by moving `last_tick_at` forward in the same statement that inserts the
 * tick's job (`Schedules.fireTick`), so concurrent processes fire each tick
 * once: the row lock serializes them and the loser's `last_tick_at < tick`
 * no longer holds.
 *
 * @since 0.2.0
 */
import { sql } from "../kyselyModule.js"
import type { Kysely } from "kysely"

/** @internal */
export const v0008 = (s: string): {
  readonly up: (db: Kysely<unknown>) => Promise<void>
  readonly down: (db: Kysely<unknown>) => Promise<void>
} => ({
  up: async (db) => {
    await sql.raw(`
      create table "${s}".schedules (
        name          text primary key,
        paused        boolean not null default false,
        -- the latest tick fired or passed over: later ticks are due
        last_tick_at  timestamptz not null,
        last_job_id   uuid,
        updated_at    timestamptz not null
      );
    `).execute(db)
  },
  down: async (db) => {
    await sql.raw(`
      drop table if exists "${s}".schedules;
    `).execute(db)
  }
})
