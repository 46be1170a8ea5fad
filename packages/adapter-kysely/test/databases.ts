import { PGlite } from "@electric-sql/pglite"
import { Effect, Exit } from "effect"
import type { Scope } from "effect"
import { Transaction } from "@jobtrack/core"
import type { JobStoreShape } from "@jobtrack/core"
import { KyselyStore, Notifier, PgliteDialect, sqlMigrations } from "@jobtrack/adapter-kysely"
import { Kysely, PostgresDialect, sql } from "kysely"
import pg from "pg"
import { postgresUrl } from "../../../scripts/test-env.js"

/**
 * The PostgreSQL the tests use: DATABASE_URL. Under CI it must be set (the
 * tests must run, not skip); elsewhere the PostgreSQL tests are skipped without it.
 */
export const databaseUrl = (): string | undefined => postgresUrl()

export const randomSchema = (prefix = "jt") => `${prefix}_${Math.random().toString(36).slice(2, 10)}`

export interface TestDatabase {
  readonly db: Kysely<unknown>
  readonly notifier: Notifier.Notifier
  readonly close: () => Promise<void>
}

export const postgresDatabase = (url: string, max = 20): TestDatabase => {
  const pool = new pg.Pool({ connectionString: url, max })
  pool.on("error", () => {})
  const db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool }) })
  return { db, notifier: Notifier.postgres(url), close: () => db.destroy() }
}

export const pgliteDatabase = async (): Promise<TestDatabase> => {
  const pgl = await PGlite.create()
  const db = new Kysely<unknown>({ dialect: new PgliteDialect(pgl) })
  return { db, notifier: Notifier.pglite(pgl), close: () => pgl.close() }
}

/**
 * jobtrack's schema built from the SQL files' text (`sqlMigrations`: every
 * migration's statements and its applied_migrations row), sent as one
 * query (one transaction): the schema `migrate()` builds, at about a
 * third of its time (one round trip and one commit instead of about 250
 * statements in 41 transactions; session 10: 0.7-0.9 s against 1.1-3.1 s on
 * PostgreSQL, 0.3-0.5 s against 0.8-2.8 s of CPU on PGlite). For suites that
 * need a fresh schema per test; `migrate()` itself has its own tests.
 */
export const createSchema = async (db: Kysely<unknown>, schema: string): Promise<void> => {
  const files = await sqlMigrations(schema)
  // each file is `begin; …; commit;` (what a migration tool runs); without those, the one
  // multi-statement query is one implicit transaction, rolled back whole if a statement fails
  const body = files.map((f) => f.up.replace(/^begin;\n/m, "").replace(/\ncommit;\n$/, "\n"))
  await sql.raw(body.join("\n")).execute(db)
}

/** A store in a fresh schema (built by {@link createSchema}), dropped when the scope closes. */
export const freshStore = (database: () => TestDatabase): Effect.Effect<JobStoreShape, unknown, Scope.Scope> =>
  Effect.gen(function*() {
    const { db, notifier } = database()
    const schema = randomSchema()
    yield* Effect.acquireRelease(
      Effect.promise(() => createSchema(db, schema)),
      () => Effect.promise(() => sql.raw(`drop schema "${schema}" cascade`).execute(db).catch(() => {}))
    )
    return yield* KyselyStore.make({ db, schema, notifier })
  })

/** Run `body` in a Kysely transaction the store joins; commit or roll back. */
export const inTransaction = (database: () => TestDatabase) =>
<A, E>(_store: JobStoreShape, body: Effect.Effect<A, E>, commit: boolean) =>
  Effect.gen(function*() {
    const trx = yield* Effect.promise(() => database().db.startTransaction().execute())
    const exit = yield* Effect.exit(Effect.provideService(body, Transaction, trx))
    yield* Effect.promise(() => (commit && Exit.isSuccess(exit) ? trx.commit().execute() : trx.rollback().execute()))
    if (!commit) return yield* Effect.fail("rolled back" as const)
    return yield* exit
  })

/**
 * A Kysely over one connection that explains every statement it runs, nested
 * ones included (auto_explain at notice level), into `plans`: the plans a
 * store really runs, for plan tests (shape, not timing). `extra` adds
 * auto_explain settings (e.g. `-c auto_explain.log_analyze=on`).
 */
export const explaining = (url: string, plans: Array<string>, extra = ""): Kysely<unknown> => {
  const pool = new pg.Pool({
    connectionString: url,
    max: 1,
    options: "-c session_preload_libraries=auto_explain -c auto_explain.log_min_duration=0 " +
      "-c auto_explain.log_nested_statements=on -c auto_explain.log_level=notice" + (extra === "" ? "" : ` ${extra}`)
  })
  pool.on("connect", (client) =>
    client.on("notice", (msg) => {
      if (msg.message?.includes("Query Text")) plans.push(msg.message)
    }))
  return new Kysely<unknown>({ dialect: new PostgresDialect({ pool }) })
}

/** Poll `f` until `ok` holds, at most `withinMs` (a bounded wait on a real signal). */
export const until = async <A>(f: () => Promise<A>, ok: (a: A) => boolean, withinMs: number, what: string): Promise<A> => {
  const start = Date.now()
  while (true) {
    const a = await f()
    if (ok(a)) return a
    if (Date.now() - start > withinMs) throw new Error(`${what}: not reached within ${withinMs} ms (last: ${JSON.stringify(a)})`)
    await new Promise((r) => setTimeout(r, 25))
  }
}
