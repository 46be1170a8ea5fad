/**
 * An operator's filter (`AdminStore.AdminFilter`) as a SQL condition over
 * `jobs`, shared by the console's lists, counts, charts and bulk actions.
 * Text in the error is an `ilike` (`%` and `_` are plain text), which the
 * trigram index of migration 0012 serves where the database has pg_trgm.
 *
 * @since 0.3.0
 */
import { JobId } from "@jobtrack/core"
import type { AdminStore } from "@jobtrack/core"
import { sql } from "kysely"
import type { RawBuilder } from "kysely"

/** `%`, `_` and `\` match themselves in ILIKE. */
const escapeLike = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`)

/**
 * The filter as a WHERE condition.
 *
 * @since 0.3.0
 * @category sql
 */
export const condition = (f: AdminStore.AdminFilter): RawBuilder<unknown> => {
  const w: Array<RawBuilder<unknown>> = [sql`true`]
  if (f.ids !== undefined) w.push(sql`id = any(${f.ids.filter(JobId.isValid)}::uuid[])`)
  if (f.owner !== undefined) w.push(f.owner === null ? sql`owner is null` : sql`owner = ${f.owner}`)
  if (f.status !== undefined) w.push(sql`status = any(${[...f.status]}::text[])`)
  if (f.type !== undefined) w.push(sql`type = ${f.type}`)
  if (f.queue !== undefined) w.push(sql`queue = ${f.queue}`)
  if (f.key !== undefined) w.push(sql`key = ${f.key}`)
  if (f.createdFrom !== undefined) w.push(sql`created_at >= ${f.createdFrom.toISOString()}::timestamptz`)
  if (f.createdTo !== undefined) w.push(sql`created_at < ${f.createdTo.toISOString()}::timestamptz`)
  if (f.finishedFrom !== undefined) w.push(sql`completed_at >= ${f.finishedFrom.toISOString()}::timestamptz`)
  if (f.finishedTo !== undefined) w.push(sql`completed_at < ${f.finishedTo.toISOString()}::timestamptz`)
  if (f.errorContains !== undefined) w.push(sql`error_message ilike ${`%${escapeLike(f.errorContains)}%`}`)
  return sql.join(w, sql` and `)
}
