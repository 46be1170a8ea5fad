/**
 * Migration numbers are assigned ahead and may land out of order: a database
 * that already ran a later migration (0008) still gets an earlier one that
 * arrives afterwards, and the store then starts.
 */
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { Effect } from "effect"
import { applied, KyselyStore, migrate, migrationNames, migrations, verify } from "@jobtrack/adapter-kysely"
import { Kysely, PostgresDialect, sql } from "kysely"
import pg from "pg"
import { databaseUrl, randomSchema } from "./databases.js"

const url = databaseUrl()

describe.skipIf(!url)("migrations landing out of order", { tags: ["postgres"] }, () => {
  let db: Kysely<unknown>
  const schema = randomSchema("jt_order")
  beforeAll(() => {
    db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url!, max: 4 }) }) })
  })
  afterAll(async () => {
    await sql.raw(`drop schema if exists "${schema}" cascade`).execute(db)
    await db.destroy()
  })

  it("the list is in name order, and a missing earlier migration runs after a later one", async () => {
    assert.deepStrictEqual([...migrationNames], [...migrationNames].sort())
    assert.include(migrationNames, "jobtrack_0008_schedules")
    await migrate(db, { schema })
    // as if 0003 had landed after 0008 was applied: undo it and forget it in both ledgers
    const earlier = migrationNames[migrationNames.indexOf("jobtrack_0008_schedules") - 1]!
    await migrations(schema)[earlier]!.down!(db)
    await sql`delete from ${sql.id(schema, "jobtrack_migration")} where name = ${earlier}`.execute(db)
    assert.notInclude(await applied(db, { schema }), earlier)
    let refused = false
    await verify(db, { schema }).catch(() => (refused = true))
    assert.isTrue(refused, "verify accepted a schema missing a migration")

    const result = await migrate(db, { schema })
    assert.deepStrictEqual(result.results?.map((r) => [r.migrationName, r.status]), [[earlier, "Success"]])
    await verify(db, { schema })
    await Effect.runPromise(Effect.scoped(Effect.asVoid(KyselyStore.make({ db, schema }))))
  })
})
