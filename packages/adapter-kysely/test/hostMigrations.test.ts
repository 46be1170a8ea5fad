/**
 * The three ways a host migrates jobtrack's schema: jobtrack migrates it, the
 * host's own Kysely migrator runs the migrations (then the store only checks
 * the version), or the host applies the SQL files with another tool. And an
 * upgrade from the previous schema version with jobs in flight.
 */
import { readFileSync } from "node:fs"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { Effect, Exit } from "effect"
import { JobId } from "@jobtrack/core"
import type { JobStoreShape, NewJob } from "@jobtrack/core"
import { KyselyStore, kyselyMigrator, layerPostgres, migrate, migrationNames, migrations, sqlMigrations } from "@jobtrack/adapter-kysely"
import { Kysely, PostgresDialect, sql } from "kysely"
import type { Migration } from "kysely/migration"
import { Migrator } from "kysely/migration"
import pg from "pg"
import { databaseUrl, randomSchema } from "./databases.js"

const url = databaseUrl()
const latest = migrationNames.at(-1)!

/** The store's start on `schema`: its error message, or "started". */
const start = (db: Kysely<unknown>, schema: string) =>
  Effect.runPromiseExit(Effect.scoped(KyselyStore.make({ db, schema }))).then((exit) =>
    Exit.isSuccess(exit) ? "started" : String((exit.cause as unknown as { reasons?: Array<{ error?: { reason?: string } }> }).reasons?.[0]?.error?.reason ?? exit.cause)
  )

const withStore = <A>(db: Kysely<unknown>, schema: string, f: (store: JobStoreShape) => Effect.Effect<A, unknown>) =>
  Effect.runPromise(Effect.scoped(Effect.flatMap(KyselyStore.make({ db, schema }), f)))

const newJob = (type: string, key: string): NewJob => ({
  id: JobId.make(),
  type,
  queue: "default",
  payload: { key },
  maxAttempts: 3,
  priority: 0,
  runAt: new Date(Date.now() - 1000),
  owner: "ann",
  key,
  groupKey: null,
  groupLimit: null
})

describe.skipIf(!url)("host migrations", { tags: ["postgres"] }, () => {
  let db: Kysely<unknown>
  const schemas: Array<string> = []
  const fresh = async () => {
    const s = randomSchema("jt_host")
    schemas.push(s)
    await sql.raw(`create schema "${s}"`).execute(db)
    return s
  }
  const hostTable = (schema: string, name: string): Migration => ({
    up: async (d) => void (await sql.raw(`create table "${schema}".${name} (id serial primary key)`).execute(d))
  })
  beforeAll(() => {
    const pool = new pg.Pool({ connectionString: url!, max: 4 })
    pool.on("error", () => {})
    db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool }) })
  })
  afterAll(async () => {
    for (const s of schemas) await sql.raw(`drop schema if exists "${s}" cascade`).execute(db)
    await db.destroy()
  })

  it("(b) a host migrator that already ran its own migrations adds jobtrack's; the store starts without migrating", async () => {
    const schema = await fresh()
    const mine = { users_0001: hostTable(schema, "users") }
    const host = (list: Record<string, Migration>) =>
      new Migrator({ db, provider: { getMigrations: async () => list }, migrationTableSchema: schema, allowUnorderedMigrations: true })
    assert.isUndefined((await host(mine).migrateToLatest()).error)
    // before: the store refuses, naming what is missing
    assert.include(await start(db, schema), migrationNames[0]!)
    const r = await host({ ...mine, ...migrations(schema) }).migrateToLatest()
    assert.isUndefined(r.error)
    assert.deepStrictEqual(r.results?.map((x) => x.migrationName), [...migrationNames])
    assert.strictEqual(await start(db, schema), "started")
    // and through layerPostgres with migrate: false (no second ledger, no 42P07)
    const exit = await Effect.runPromiseExit(Effect.scoped(Effect.asVoid(
      Effect.flatMap(Effect.succeed(layerPostgres({ connectionString: url!, schema, migrate: false, max: 1 })), (layer) =>
        Effect.provide(Effect.void, layer))
    )))
    assert.isTrue(Exit.isSuccess(exit), String(exit))
    const ledgers = await sql<{ table_name: string }>`
      select table_name from information_schema.tables where table_schema = ${schema} and table_name like '%migration%'`.execute(db)
    assert.deepStrictEqual(ledgers.rows.map((t) => t.table_name).sort(), ["applied_migrations", "kysely_migration", "kysely_migration_lock"])
  })

  it("(b) kyselyMigrator builds Kysely's own Migrator from wherever the host's Kysely has it (here 0.29: kysely/migration)", async () => {
    const schema = await fresh()
    const m = await kyselyMigrator({
      db,
      provider: { getMigrations: async () => ({ users_0001: hostTable(schema, "users"), ...migrations(schema) }) },
      migrationTableSchema: schema
    })
    assert.instanceOf(m, Migrator)
    const r = await m.migrateToLatest()
    assert.isUndefined(r.error)
    assert.deepStrictEqual(r.results?.map((x) => x.migrationName), ["users_0001", ...migrationNames].sort())
    assert.strictEqual(await start(db, schema), "started")
  })

  it("(b) renamed into the host's own naming scheme, in name order", async () => {
    const schema = await fresh()
    const renamed = Object.fromEntries(Object.entries(migrations(schema)).map(([name, m]) => [`2026_11_30_${name}`, m]))
    const host = new Migrator({
      db,
      provider: { getMigrations: async () => ({ "2026_01_01_users": hostTable(schema, "users"), ...renamed }) },
      migrationTableSchema: schema
    })
    assert.isUndefined((await host.migrateToLatest()).error)
    assert.strictEqual(await start(db, schema), "started")
  })

  /** layerPostgres on `schema` as a host starts it (it migrates unless told not to): "started" or its error. */
  const startLayer = (schema: string) =>
    Effect.runPromiseExit(Effect.scoped(Effect.provide(Effect.void, layerPostgres({ connectionString: url!, schema, max: 1 })))).then(
      (exit) => (Exit.isSuccess(exit) ? "started" : String(exit))
    )
  const keys = async (schema: string) =>
    (await sql<{ key: string }>`select key from ${sql.id(schema, "jobs")} order by key`.execute(db)).rows.map((r) => r.key)

  // Switching from one documented way to the other failed with 42P07 (relation "jobs" already
  // exists): each ran every migration its own ledger did not list. Now a migration recorded in
  // <schema>.applied_migrations is only recorded, never run again.
  it("switch: layerPostgres migrated the schema, then the host's migrator takes over (no 42P07, nothing re-run)", async () => {
    const schema = await fresh()
    assert.strictEqual(await startLayer(schema), "started")
    await withStore(db, schema, (store) => store.enqueue(newJob("t", "before")))
    const m = await kyselyMigrator({
      db,
      provider: { getMigrations: async () => ({ users_0001: hostTable(schema, "users"), ...migrations(schema) }) },
      migrationTableSchema: schema,
      allowUnorderedMigrations: true
    })
    const r = await m.migrateToLatest()
    assert.isUndefined(r.error, String(r.error))
    assert.deepStrictEqual(r.results?.filter((x) => x.status !== "Success"), [])
    assert.strictEqual(await start(db, schema), "started")
    assert.deepStrictEqual(await keys(schema), ["before"])
    // and back again: layerPostgres migrates nothing twice
    assert.strictEqual(await startLayer(schema), "started")
    assert.deepStrictEqual(await keys(schema), ["before"])
  })

  it("a host's own jobs table in the schema is not taken for jobtrack's: the first migration fails (42P07), nothing skipped", async () => {
    const schema = await fresh()
    await sql.raw(`create table "${schema}".jobs (id serial primary key)`).execute(db)
    const r = await (await kyselyMigrator({ db, provider: { getMigrations: async () => migrations(schema) }, migrationTableSchema: schema }))
      .migrateToLatest()
    assert.match(String(r.error), /already exists/)
    assert.deepStrictEqual(r.results?.filter((x) => x.status === "Success"), [])
  })

  it("switch: the host's migrator (or the SQL files) migrated the schema, then layerPostgres migrates it itself", async () => {
    const schema = await fresh()
    const r = await (await kyselyMigrator({ db, provider: { getMigrations: async () => migrations(schema) }, migrationTableSchema: schema }))
      .migrateToLatest()
    assert.isUndefined(r.error)
    await withStore(db, schema, (store) => store.enqueue(newJob("t", "before")))
    assert.strictEqual(await startLayer(schema), "started")
    assert.deepStrictEqual(await keys(schema), ["before"])
    const ran = await sql<{ name: string }>`select name from ${sql.id(schema, "jobtrack_migration")}`.execute(db)
    assert.strictEqual(ran.rows.length, migrationNames.length)

    const files = randomSchema("jt_sql")
    schemas.push(files)
    const client = new pg.Client({ connectionString: url! })
    await client.connect()
    try {
      for (const m of await sqlMigrations(files)) await client.query(m.up)
    } finally {
      await client.end()
    }
    await withStore(db, files, (store) => store.enqueue(newJob("t", "before")))
    assert.strictEqual(await startLayer(files), "started")
    assert.deepStrictEqual(await keys(files), ["before"])
  })

  it("the store refuses a schema that is behind, naming the missing migration", async () => {
    const schema = await fresh()
    await migrate(db, { schema, to: migrationNames.at(-2)! })
    const refused = await start(db, schema)
    assert.include(refused, `migration ${latest} has not run`)
    assert.include(refused, schema)
    await migrate(db, { schema })
    assert.strictEqual(await start(db, schema), "started")
    await sql.raw(`insert into "${schema}".applied_migrations (name) values ('jobtrack_9999_future')`).execute(db)
    assert.include(await start(db, schema), "newer jobtrack (jobtrack_9999_future)")
  })

  it("(c) the packaged SQL files are the migrations', and applied as plain SQL they give a schema the store accepts", async () => {
    const files = await sqlMigrations("jobtrack")
    for (const m of files) {
      for (const way of ["up", "down"] as const) {
        const packaged = readFileSync(new URL(`../sql/${m.name}.${way}.sql`, import.meta.url), "utf8")
        assert.strictEqual(packaged, m[way], `sql/${m.name}.${way}.sql is stale: run pnpm --filter @jobtrack/adapter-kysely sql`)
      }
    }
    assert.deepStrictEqual(files.map((m) => m.name), [...migrationNames])
    // what dbmate or psql would do with them, in another schema
    const schema = randomSchema("jt_sql")
    schemas.push(schema)
    const client = new pg.Client({ connectionString: url! })
    await client.connect()
    try {
      for (const m of await sqlMigrations(schema)) await client.query(m.up)
      assert.strictEqual(await start(db, schema), "started")
      await withStore(db, schema, (store) => store.enqueue(newJob("t", "a")))
      for (const m of [...(await sqlMigrations(schema))].reverse()) await client.query(m.down)
      assert.include(await start(db, schema), migrationNames[0]!)
    } finally {
      await client.end()
    }
  })

  it("a database of the first release (before migrations recorded themselves) upgrades and starts", async () => {
    const schema = randomSchema("jt_old")
    schemas.push(schema)
    await migrate(db, { schema, to: migrationNames[0]! })
    await sql.raw(`drop table "${schema}".applied_migrations`).execute(db)
    await migrate(db, { schema })
    assert.strictEqual(await start(db, schema), "started")
  })

  it("an upgrade from the previous schema version with jobs in flight loses none", async () => {
    const schema = randomSchema("jt_upg")
    schemas.push(schema)
    await migrate(db, { schema, to: migrationNames.at(-2)! })
    // jobs in flight, written through SQL the previous version had (no store of this version may start yet)
    const jobs = [newJob("t", "pending"), newJob("t", "running"), newJob("t", "retrying")]
    for (const j of jobs) {
      await sql.raw(`insert into "${schema}".jobs (id, type, queue, payload, status, max_attempts, run_at, owner, key, created_at, updated_at)
        values ('${j.id}', 't', 'default', '{}', 'pending', 3, now() - interval '1 second', 'ann', '${j.key}', now(), now())`).execute(db)
    }
    await sql.raw(`update "${schema}".jobs set status = 'processing', attempts = 1, token = 1, locked_by = 'old-worker',
      locked_until = now() + interval '1 minute', started_at = now() where key = 'running'`).execute(db)
    await sql.raw(`update "${schema}".jobs set status = 'retrying', attempts = 1, token = 1, error_message = 'flaky',
      errors = '[{"attempt":1,"message":"flaky","at":"2026-11-30T00:00:00.000Z"}]' where key = 'retrying'`).execute(db)

    await migrate(db, { schema })
    await withStore(db, schema, (store) =>
      Effect.gen(function*() {
        const running = yield* store.get(jobs[1]!.id)
        assert.strictEqual(running.status, "processing")
        // the old holder's lease still holds: its completion is accepted
        const done = yield* store.complete({ id: running.id, token: running.token }, { ok: true })
        assert.strictEqual(done.status, "completed")
        const claimed = yield* store.claim({ queues: ["default"], types: ["t"], workerId: "new", limit: 10, leaseMs: 60_000 })
        assert.deepStrictEqual(claimed.map((j) => j.key).sort(), ["pending", "retrying"])
        const retried = claimed.find((j) => j.key === "retrying")!
        assert.strictEqual(retried.attempts, 2)
        assert.strictEqual(retried.errors.length, 1)
      }))
    const count = await sql<{ n: string }>`select count(*) as n from ${sql.id(schema, "jobs")}`.execute(db)
    assert.strictEqual(Number(count.rows[0]!.n), 3)
  })
})
