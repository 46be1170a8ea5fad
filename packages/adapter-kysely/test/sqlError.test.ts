import { afterAll, assert, describe, it } from "vitest"
import { Kysely, PostgresDialect, sql } from "kysely"
import pg from "pg"
import { SqlError } from "@jobtrack/adapter-kysely"
import { databaseUrl, pgliteDatabase, postgresDatabase } from "./databases.js"
import type { TestDatabase } from "./databases.js"

/** The error a statement fails with on a real database. */
const failing = (db: Kysely<unknown>, text: string) =>
  sql.raw(text).execute(db).then(() => assert.fail(`${text} succeeded`), (e: unknown) => e)

const url = databaseUrl()
const databases: Array<[string, () => Promise<TestDatabase>]> = [["PGlite", pgliteDatabase]]
if (url) databases.push(["PostgreSQL", async () => postgresDatabase(url, 2)])

for (const [name, open] of databases) {
  describe(`SQL errors from ${name} are classified by SQLSTATE`, () => {
    const opened: Array<TestDatabase> = []
    afterAll(() => Promise.all(opened.map((d) => d.close())))

    it("data the database refuses is rejected (not an outage); a missing table is internal", async () => {
      const database = await open()
      opened.push(database)
      const { db } = database
      const cases: Array<[string, string, string]> = [
        [`select '"a\\u0000b"'::jsonb`, "22P05", "rejected"],
        [`select '"\\ud800"'::jsonb`, "22P02", "rejected"],
        [`select convert_from('\\x6100'::bytea, 'UTF8')`, "22021", "rejected"],
        [`select 1/0`, "22012", "rejected"],
        [`select * from no_such_table_here`, "42P01", "internal"],
        [`selec 1`, "42601", "internal"]
      ]
      for (const [text, state, failure] of cases) {
        const e = await failing(db, text)
        assert.strictEqual(SqlError.sqlState(e), state, text)
        const wrapped = SqlError.toStoreError("test", e)
        assert.strictEqual(wrapped.failure, failure, text)
        assert.strictEqual(wrapped.retryable, false, text)
      }
    }, 120_000)
  })
}

describe("SQL errors of an unreachable server", () => {
  it("connection refused is unavailable and retryable", async () => {
    const pool = new pg.Pool({ host: "127.0.0.1", port: 1, user: "postgres", max: 1, connectionTimeoutMillis: 2000 })
    pool.on("error", () => {})
    const db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool }) })
    try {
      const wrapped = SqlError.toStoreError("test", await failing(db, "select 1"))
      assert.strictEqual(wrapped.failure, "unavailable")
      assert.isTrue(wrapped.retryable)
    } finally {
      await db.destroy()
    }
  })
})

/**
 * A store that was closed (its Kysely destroyed, its pool ended, its PGlite
 * closed) fails every statement from then on; retrying cannot help, and a
 * runner retrying a write after its store closed would keep the process
 * alive for up to a lease.
 */
describe("SQL errors of a closed store", () => {
  const closed: Array<[string, () => Promise<Kysely<unknown>>]> = [
    ["PGlite closed", async () => {
      const database = await pgliteDatabase()
      await sql`select 1`.execute(database.db)
      await database.close()
      return database.db
    }]
  ]
  if (url) {
    closed.push(["Kysely destroyed (pg)", async () => {
      const { db } = postgresDatabase(url, 1)
      await sql`select 1`.execute(db)
      await db.destroy()
      return db
    }], ["pg pool ended", async () => {
      const pool = new pg.Pool({ connectionString: url, max: 1 })
      const db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool }) })
      await sql`select 1`.execute(db)
      await pool.end()
      return db
    }])
  }
  for (const [name, close] of closed) {
    it(`${name}: not retryable`, async () => {
      const e = await failing(await close(), "select 1")
      assert.isFalse(SqlError.isRetryable(e), String(e))
      assert.isFalse(SqlError.toStoreError("test", e).retryable, String(e))
    })
  }
})
