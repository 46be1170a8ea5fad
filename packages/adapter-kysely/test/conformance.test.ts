import { afterAll, beforeAll, describe } from "vitest"
import { Effect } from "effect"
import { storeConformance } from "@jobtrack/core/conformance"
import { postgres } from "@jobtrack/adapter-kysely"
import { sql } from "kysely"
import { databaseUrl, freshStore, inTransaction, pgliteDatabase, postgresDatabase, randomSchema } from "./databases.js"
import type { TestDatabase } from "./databases.js"

const url = databaseUrl()

describe.skipIf(!url)("PostgreSQL (pg)", { tags: ["postgres"] }, () => {
  let database: TestDatabase
  beforeAll(() => {
    database = postgresDatabase(url!)
  })
  afterAll(() => database.close())
  storeConformance("KyselyStore on PostgreSQL", {
    makeStore: freshStore(() => database),
    transaction: inTransaction(() => database),
    claimers: 16
  })
})

// postgres() sends the claim and the completions straight to its own pool, their rows read by
// position (store/Direct.ts, store/Positional.ts): the same rules on that path
describe.skipIf(!url)("PostgreSQL (postgres(), its own pool)", { tags: ["postgres"] }, () => {
  let database: TestDatabase
  beforeAll(() => {
    database = postgresDatabase(url!)
  })
  afterAll(() => database.close())
  storeConformance("postgres() on PostgreSQL", {
    makeStore: Effect.gen(function*() {
      const schema = randomSchema("jt_own")
      yield* Effect.addFinalizer(() =>
        Effect.promise(() => sql.raw(`drop schema if exists "${schema}" cascade`).execute(database.db).catch(() => {})))
      return yield* postgres({ connectionString: url!, schema, max: 4 })
    }),
    transaction: inTransaction(() => database),
    claimers: 16
  })
})

describe("PGlite", () => {
  let database: TestDatabase
  beforeAll(async () => {
    database = await pgliteDatabase()
  }, 120_000)
  afterAll(() => database.close())
  storeConformance("KyselyStore on PGlite", {
    makeStore: freshStore(() => database),
    transaction: inTransaction(() => database),
    claimers: 8
  })
})
