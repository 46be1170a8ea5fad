/**
 * Migration 0034: the watched-jobs trigger fails open when the watch horizon
 * cannot be read.
 *
 * Migration 0032 gates `jobs_notify_watched` with
 * `pg_sequence_last_value(watch_horizon) > now`. That function returns NULL
 * when the sequence has no value yet (restarted, or restored by a dump
 * without its `setval`) and, on newer PostgreSQL versions, when the role
 * writing jobs may not read the sequence; a NULL condition is false, so the
 * trigger never ran and every watch fell back to its 1 s poll, silently.
 * Now an unknown horizon counts as far ahead: the trigger runs, and its
 * function checks the live watches itself, as before 0032. The runtime
 * role needs SELECT and UPDATE on `watch_horizon` for the gate to skip the
 * trigger while nobody watches (docs/operations.md).
 *
 * Down restores 0032's condition.
 *
 * @since 0.2.0
 */
import { sql } from "../kyselyModule.js"
import type { Kysely } from "kysely"

const now = "floor(extract(epoch from now()) * 1000)"

const gated = (s: string, horizon: string) => `
      drop trigger jobs_notify_watched on "${s}".jobs;
      create trigger jobs_notify_watched after update on "${s}".jobs
        referencing old table as o new table as n for each statement
        when (${horizon} > ${now})
        execute function "${s}".notify_watched();`

/** Unknown (NULL) is the largest bigint: the trigger runs. */
const up = (s: string) =>
  gated(s, `coalesce(pg_sequence_last_value('"${s}".watch_horizon'), 9223372036854775807)`)

const down = (s: string) => gated(s, `pg_sequence_last_value('"${s}".watch_horizon')`)

/** @internal */
export const v0034 = (s: string): {
  readonly up: (db: Kysely<unknown>) => Promise<void>
  readonly down: (db: Kysely<unknown>) => Promise<void>
} => ({
  up: async (db) => {
    await sql.raw(up(s)).execute(db)
  },
  down: async (db) => {
    await sql.raw(down(s)).execute(db)
  }
})
