import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { latest, migrate, migrateDown, migrations } from "@jobtrack/adapter-kysely"
import { Kysely, PostgresDialect, sql } from "kysely"
import { Migrator } from "kysely/migration"
import pg from "pg"
import { databaseUrl, randomSchema } from "./databases.js"

const url = databaseUrl()

const tables = async (db: Kysely<unknown>, schema: string) =>
  (await sql<{ table_name: string }>`
    select table_name from information_schema.tables where table_schema = ${schema} order by table_name`.execute(db))
    .rows.map((r) => r.table_name)

describe.skipIf(!url)("migrations", { tags: ["postgres"] }, () => {
  let db: Kysely<unknown>
  const schemas: Array<string> = []
  const fresh = () => {
    const s = randomSchema("jt_mig")
    schemas.push(s)
    return s
  }
  beforeAll(() => {
    db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url!, max: 10 }) }) })
  })
  afterAll(async () => {
    for (const s of schemas) await sql.raw(`drop schema if exists "${s}" cascade`).execute(db)
    await db.destroy()
  })

  it("up, down, up again, in a non-default schema", async () => {
    const schema = fresh()
    const first = await migrate(db, { schema })
    const all = Object.keys(migrations(schema))
    assert.strictEqual(all.at(-1), latest)
    assert.deepStrictEqual(first.results?.map((r) => [r.migrationName, r.status]), all.map((n) => [n, "Success"]))
    assert.includeMembers(await tables(db, schema), ["jobs", "jobtrack_migration"])
    await migrateDown(db, { schema })
    assert.notInclude(await tables(db, schema), "jobs")
    await migrate(db, { schema })
    assert.include(await tables(db, schema), "jobs")
    const again = await migrate(db, { schema })
    assert.deepStrictEqual(again.results, [])
    assert.notInclude(await tables(db, "public"), "jobs")
  })

  it("eight processes migrating at once: one runs it, the others find it done", async () => {
    const schema = fresh()
    const pools = Array.from({ length: 8 }, () =>
      new Kysely<unknown>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url!, max: 1 }) }) }))
    try {
      const results = await Promise.all(pools.map((p) => migrate(p, { schema })))
      const ran = results.flatMap((r) => r.results ?? []).filter((r) => r.status === "Success")
      // each migration ran exactly once, in one of them
      assert.deepStrictEqual(ran.map((r) => r.migrationName).sort(), Object.keys(migrations(schema)).sort())
      assert.include(await tables(db, schema), "jobs")
    } finally {
      await Promise.all(pools.map((p) => p.destroy()))
    }
  })

  it("refuses a database migrated by a newer jobtrack", async () => {
    const schema = fresh()
    const newer = new Migrator({
      db,
      provider: {
        getMigrations: async () => ({
          ...migrations(schema),
          "jobtrack_9999_future": { up: async () => {} }
        })
      },
      migrationTableSchema: schema,
      migrationTableName: "jobtrack_migration",
      migrationLockTableName: "jobtrack_migration_lock"
    })
    await sql.raw(`create schema "${schema}"`).execute(db)
    const r = await newer.migrateToLatest()
    assert.isUndefined(r.error)
    const err = await migrate(db, { schema }).then(() => undefined, (e: Error) => e)
    assert.instanceOf(err, Error)
    assert.match(err!.message, /jobtrack_9999_future/)
  })

  it("the host runs them from its own migrator", async () => {
    const schema = fresh()
    await sql.raw(`create schema "${schema}"`).execute(db)
    const host = new Migrator({
      db,
      provider: {
        getMigrations: async () => ({
          "0001_host_records": {
            up: async (d) => void (await sql.raw(`create table "${schema}".records (id serial primary key)`).execute(d))
          },
          ...migrations(schema)
        })
      },
      migrationTableSchema: schema
    })
    const r = await host.migrateToLatest()
    assert.isUndefined(r.error)
    assert.includeMembers(await tables(db, schema), ["jobs", "records"])
  })

  it("rejects schema names it cannot put into SQL", async () => {
    assert.throws(() => migrations("Robert'); drop table x;--"), /must match/)
  })
})
