/**
 * Migration 0024: every vacuum of `jobs` also cleans its indexes (issue 13,
 * item 1, the history's tail).
 *
 * Each claimed job leaves a dead entry at the front of `jobs_claim`, the
 * partial index every claim reads from its first entry; index scans mark such
 * entries dead but still read their pages, and pages at the front of the
 * queue never receive inserts, so only a vacuum's index pass removes them.
 * Migration 0009 starts autovacuum after 20,000 dead rows whatever the
 * history, but with `vacuum_index_cleanup` left at `auto` a vacuum skips its
 * index passes while fewer than 2 % of the table's pages hold dead rows
 * (PostgreSQL 14+). With millions of finished jobs that is almost always the
 * case (one drain of 10,000 jobs dirties 0.2–0.7 % of a 10,000,000-row
 * table), so the dead entries of drain after drain pile up in front of the
 * claim. Measured (docs/benchmarks.md, "History tail (session 4)"): with a
 * plain VACUUM before each drain of 10,000 jobs at 10,000,000 finished rows,
 * buffers per job 0.86× → 1.16× → 1.43× → 1.44× the empty table's round by
 * round with `auto` (every index pass bypassed), 0.92–1.03× with `on`.
 *
 * The price: each vacuum reads every index of the table once (1.5–3.1 s per
 * vacuum at 10,000,000 rows on the bench machine, against 0.3–0.5 s when it
 * skips them; no difference at 1,000,000, where the 2 % is reached every
 * other drain anyway). A host that would rather pay it less often may raise
 * `autovacuum_vacuum_threshold` or set `vacuum_index_cleanup = auto` again
 * with `alter table <schema>.jobs set (…)`.
 *
 * Down restores `auto` (PostgreSQL's default).
 *
 * @since 0.2.0
 */
import { sql } from "../kyselyModule.js"
import type { Kysely } from "kysely"

/** @internal */
export const v0024 = (s: string): {
  readonly up: (db: Kysely<unknown>) => Promise<void>
  readonly down: (db: Kysely<unknown>) => Promise<void>
} => ({
  up: async (db) => {
    await sql.raw(`alter table "${s}".jobs set (vacuum_index_cleanup = on)`).execute(db)
  },
  down: async (db) => {
    await sql.raw(`alter table "${s}".jobs reset (vacuum_index_cleanup)`).execute(db)
  }
})
