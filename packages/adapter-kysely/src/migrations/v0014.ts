/**
 * Migration 0014: the claim's statements are planned without bitmap scans.
 *
 * Migration 0011's lock-free first read (`… order by priority desc, run_at,
 * id limit n for update skip locked`) is only cheap as an ordered scan of
 * `jobs_claim` stopped by the limit. With column statistics from an empty or
 * young table and a row count refreshed since (a CREATE INDEX, a VACUUM), the
 * planner chose a bitmap scan of every entry of the queue (the backlog and
 * the dead entries of earlier claims), a sort, then the lock: measured at
 * 1,762 buffers and 13.7 ms per claim of 10 with 1,000,000 finished jobs,
 * against 311 buffers and 1.4 ms for the ordered scan (docs/benchmarks.md,
 * "History (session 3)"). None of the claim's statements has a use for a
 * bitmap scan, so the function runs with `enable_bitmapscan = off`.
 *
 * A later migration that redefines `claim()` with `create or replace` drops
 * this setting: it must keep `set enable_bitmapscan = off` in its definition.
 *
 * @since 0.2.0
 */
import { sql } from "../kyselyModule.js"
import type { Kysely } from "kysely"

const claim = (s: string) => `"${s}".claim(text[], text[], text, integer, integer, timestamptz)`

/** @internal */
export const v0014 = (s: string): {
  readonly up: (db: Kysely<unknown>) => Promise<void>
  readonly down: (db: Kysely<unknown>) => Promise<void>
} => ({
  up: async (db) => {
    await sql.raw(`alter function ${claim(s)} set enable_bitmapscan = off`).execute(db)
  },
  down: async (db) => {
    await sql.raw(`alter function ${claim(s)} reset enable_bitmapscan`).execute(db)
  }
})
