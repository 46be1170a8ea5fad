import { afterAll, beforeAll, describe } from "vitest"
import { storeConformance } from "@jobtrack/core/conformance"
import { databaseUrl, freshStore, inTransaction, pgliteDatabase, postgresDatabase } from "./databases.js"
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
