/**
 * Migration 0024: a vacuum of `jobs` cleans its indexes even when few of the
 * table's pages hold dead rows, which is the usual case with a long history
 * (PostgreSQL skips the index passes below 2 % of the pages when the table
 * leaves `vacuum_index_cleanup` at `auto`). Checked by what VACUUM VERBOSE
 * reports, before and after undoing the migration.
 */
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { migrate, migrations } from "@jobtrack/adapter-kysely"
import { Kysely, PostgresDialect, sql } from "kysely"
import pg from "pg"
import { databaseUrl, randomSchema } from "./databases.js"

const url = databaseUrl()

describe.skipIf(!url)("migration 0024: vacuums of jobs clean the indexes", { tags: ["postgres"] }, () => {
  const schema = randomSchema("jt_vic")
  let db: Kysely<unknown>
  let client: pg.Client
  let notices: Array<string> = []
  beforeAll(async () => {
    db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url!, max: 2 }) }) })
    client = new pg.Client({ connectionString: url! })
    client.on("notice", (n) => notices.push(n.message ?? ""))
    await client.connect()
    await migrate(db, { schema })
  })
  afterAll(async () => {
    await sql.raw(`drop schema if exists "${schema}" cascade`).execute(db)
    await client.end()
    await db.destroy()
  })

  const reloptions = async () =>
    (await client.query<{ o: Array<string> | null }>(`select reloptions as o from pg_class where oid = $1::regclass`, [
      `"${schema}".jobs`
    ])).rows[0]!.o ?? []

  /**
   * Delete 20 finished jobs (dead rows on a page or two of a few hundred), then VACUUM VERBOSE
   * until it reports having found them (a transaction elsewhere in the database may hold them
   * back from a first vacuum; up to 10 s): its report.
   */
  const deleteFewThenVacuum = async () => {
    await client.query(`delete from "${schema}".jobs where id in (select id from "${schema}".jobs order by created_at limit 20)`)
    const until = Date.now() + 10_000
    while (true) {
      notices = []
      await client.query(`vacuum (verbose, process_toast false) "${schema}".jobs`)
      const report = notices.join("\n")
      if (!/index scan not needed: 0 pages/.test(report) || Date.now() > until) return report
      await new Promise((r) => setTimeout(r, 100))
    }
  }

  it("a plain VACUUM with dead rows on under 2 % of the pages still cleans the indexes; down restores auto", async () => {
    assert.include(await reloptions(), "vacuum_index_cleanup=on")
    await client.query(`
      insert into "${schema}".jobs (id, type, queue, payload, result, status, progress, attempts, max_attempts,
        run_at, token, created_at, started_at, completed_at, updated_at)
      select gen_random_uuid(), 'noop', 'default', jsonb_build_object('i', g), 'null'::jsonb, 'completed', 100, 1, 1,
        t, 1, t, t, t, t
      from generate_series(1, 20000) g, lateral (select now() - interval '1 day' + g * interval '1 millisecond' as t) x`)
    await client.query(`vacuum "${schema}".jobs`)

    const on = await deleteFewThenVacuum()
    assert.match(on, /index scan needed/, on)
    assert.notMatch(on, /index scan bypassed/, on)

    await migrations(schema)["jobtrack_0024_vacuum_index_cleanup"]!.down!(db)
    assert.notInclude(await reloptions(), "vacuum_index_cleanup=on")
    const auto = await deleteFewThenVacuum()
    assert.match(auto, /index scan bypassed/, auto)
  })
})
