/**
 * One-call set-ups: a store on a PostgreSQL server (a `pg` pool with bounded
 * statements, a LISTEN connection, migrations run) or on embedded PostgreSQL
 * (PGlite in a data directory, or in memory).
 *
 * @since 0.1.0
 */
import { Effect, Layer } from "effect"
import type { Scope } from "effect"
import { JobStore, StoreError } from "@jobtrack/core"
import type { JobStoreShape, StoreLayer } from "@jobtrack/core"
import type { Kysely } from "kysely"
import type pg from "pg"
import * as DataDirLock from "./DataDirLock.js"
import * as KyselyStore from "./KyselyStore.js"
import { load as loadKysely } from "./kyselyModule.js"
import { migrate } from "./migrations.js"
import * as Notifier from "./Notifier.js"
import { PgliteDialect } from "./PgliteDialect.js"
import * as Prepared from "./Prepared.js"
import * as Direct from "./store/Direct.js"
import { toStoreError } from "./SqlError.js"
import * as Timestamps from "./Timestamps.js"

/** Migrate (unless told not to), then build the store. */
const storeOn = (
  db: Kysely<unknown>,
  schema: string | undefined,
  notifier: Notifier.Notifier,
  migrating: boolean,
  seriesSummary?: KyselyStore.SeriesSummaryOptions
) =>
  Effect.gen(function*() {
    if (migrating) {
      yield* Effect.tryPromise({
        try: () => migrate(db, schema ? { schema } : {}),
        catch: (e) => toStoreError("migrate", e)
      })
    }
    return yield* KyselyStore.make({ db, notifier, ...(schema ? { schema } : {}), ...(seriesSummary ? { seriesSummary } : {}) })
  })

/**
 * @since 0.1.0
 * @category models
 */
export interface PostgresOptions {
  readonly connectionString: string
  readonly schema?: string
  /** Pool size (default 10). */
  readonly max?: number
  /** Server-side cap on one statement (default 30 s). */
  readonly statementTimeoutMs?: number
  /** Server-side cap on waiting for a row lock (default 5 s). */
  readonly lockTimeoutMs?: number
  /**
   * Run jobtrack's migrations at start (default true). Pass `false` when the
   * host runs them (its own Kysely migrator with `migrations()`, or the SQL
   * files): the store then only checks that the schema is at the version it
   * needs, and fails naming the missing migration when it is behind.
   */
  readonly migrate?: boolean
  /**
   * Send the hot fixed-text statements (claim, completion, batched
   * completion, failure, heartbeat, progress, get by id) as named prepared
   * statements, parsed and planned once per connection (default true). Behind a
   * pooler in transaction mode that does not keep prepared statements (PgBouncer
   * before 1.21, Supavisor) a connection falls back to unnamed statements at its
   * first failed call (`Prepared`); pass `false` to never prepare.
   */
  readonly preparedStatements?: boolean
  /** The console charts' summary (`KyselyStore.StoreOptions.seriesSummary`). */
  readonly seriesSummary?: KyselyStore.SeriesSummaryOptions
}

/** How long closing the store waits for the pool's connections in use. */
const poolCloseMs = 5_000

/**
 * A PostgreSQL store over a new `pg` pool, closed with the scope.
 *
 * @example
 * ```ts
 * const StoreLive = Layer.effect(JobStore, postgres({ connectionString: process.env.DATABASE_URL! }))
 * ```
 * @since 0.1.0
 * @category constructors
 */
export const postgres = (options: PostgresOptions): Effect.Effect<JobStoreShape, StoreError, Scope.Scope> =>
  Effect.gen(function*() {
    const statement = options.statementTimeoutMs ?? 30_000
    const lock = options.lockTimeoutMs ?? 5_000
    const config: pg.PoolConfig = {
      connectionString: options.connectionString,
      max: options.max ?? 10,
      statement_timeout: statement,
      // no client-side query_timeout: pg 8 rejects the caller at it but keeps the connection and
      // its statement, and the pool hands that dead connection out again first (every statement
      // on it then waits the timeout out); a statement on a connection that stopped answering
      // hangs instead, and the pool opens others for everything else
      idle_in_transaction_session_timeout: Math.max(statement * 2, 60_000),
      options: `-c lock_timeout=${lock}`,
      connectionTimeoutMillis: 10_000
    }
    // optional peers: loaded only by the constructor that needs them
    const { default: driver } = yield* Effect.tryPromise({
      try: () => import("pg"),
      catch: (e) => new StoreError({ reason: "install `pg` to use a PostgreSQL server", retryable: false, cause: e })
    })
    // timestamptz read without regular expressions (Timestamps.ts); every other type as pg reads it
    const timestamptz = Timestamps.timestamptz(driver.types.getTypeParser(1184, "text"))
    const types = {
      getTypeParser: (oid: number, format?: "text" | "binary") =>
        oid === 1184 && format !== "binary" ? timestamptz : driver.types.getTypeParser(oid, format)
    } as pg.CustomTypesConfig
    const { Kysely, PostgresDialect } = yield* Effect.promise(loadKysely)
    const pool = new driver.Pool({ ...config, types })
    // A lost connection fails the query using it (a StoreError, retried by the runner); the
    // 'error' events pg also emits for it, on the pool or on the client, need a listener.
    pool.on("error", () => {})
    const prepare = options.preparedStatements !== false
    pool.on("connect", (client) => {
      client.on("error", () => {})
      if (prepare) Prepared.install(client)
    })
    const db = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool }) })
        Direct.register(db, pool, types, (driver as unknown as Direct.Driver).utils?.prepareValue)
        return db
      }),
      // closing waits for the connections in use; one stuck on a server that stopped answering is
      // left behind after `poolCloseMs` (it closes when the operating system gives up on its socket)
      (db) =>
        Effect.promise(() => db.destroy()).pipe(
          Effect.timeoutOption(poolCloseMs),
          Effect.flatMap((closed) =>
            closed._tag === "Some"
              ? Effect.void
              : Effect.logWarning(
                `jobtrack: the store's pool did not close within ${poolCloseMs} ms ` +
                  "(statements are stuck on connections the server does not answer); left to close by itself"
              )
          )
        )
    )
    return yield* storeOn(db, options.schema, Notifier.postgres({ connectionString: options.connectionString }), options.migrate !== false,
      options.seriesSummary)
  })

/**
 * @since 0.1.0
 * @category models
 */
export interface PgliteOptions {
  /** Where PGlite keeps its files; omit for an in-memory database. */
  readonly dataDir?: string
  readonly schema?: string
}

/**
 * A store on embedded PostgreSQL: no server, one process. A `dataDir` is
 * locked for this process until the scope closes (see `DataDirLock`): while
 * another live process holds it, or this one already does, this fails with a
 * `StoreError` whose `cause` is a `DataDirLock.DataDirLocked` naming the
 * directory and the holder's pid, before PGlite opens anything. An in-memory
 * database needs no lock.
 *
 * @example
 * ```ts
 * const StoreLive = layerPglite({ dataDir: "./data" })
 * ```
 * @since 0.1.0
 * @category constructors
 */
export const pglite = (options: PgliteOptions = {}): Effect.Effect<JobStoreShape, StoreError, Scope.Scope> =>
  Effect.gen(function*() {
    const { PGlite } = yield* Effect.tryPromise({
      try: () => import("@electric-sql/pglite"),
      catch: (e) => new StoreError({ reason: "install `@electric-sql/pglite` to embed PostgreSQL", retryable: false, cause: e })
    })
    // locked before PGlite opens the files, released after it closed them (the scope runs backwards)
    const dir = options.dataDir === undefined ? undefined : DataDirLock.directoryOf(options.dataDir)
    if (dir !== undefined) {
      yield* DataDirLock.acquire(dir).pipe(
        Effect.mapError((e) =>
          e._tag === "DataDirLocked" ? new StoreError({ reason: e.message, retryable: false, kind: "unavailable", cause: e }) : e
        )
      )
    }
    const pgl = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () => (options.dataDir ? PGlite.create(options.dataDir) : PGlite.create()),
        catch: (e) => new StoreError({ reason: `PGlite could not start: ${String(e)}`, retryable: false, cause: e })
      }),
      (p) => Effect.promise(() => p.close().catch(() => {}))
    )
    const { Kysely } = yield* Effect.promise(loadKysely)
    return yield* storeOn(new Kysely<unknown>({ dialect: new PgliteDialect(pgl) }), options.schema, Notifier.pglite(pgl), true)
  })

/**
 * {@link postgres} as a layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerPostgres = (options: PostgresOptions): StoreLayer<KyselyStore.AnyTransaction> =>
  Layer.effect(JobStore, postgres(options))

/**
 * {@link pglite} as a layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerPglite = (options: PgliteOptions = {}): StoreLayer<KyselyStore.AnyTransaction> =>
  Layer.effect(JobStore, pglite(options))
