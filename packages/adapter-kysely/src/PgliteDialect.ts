/**
 * A Kysely dialect for PGlite (embedded PostgreSQL in WebAssembly). PGlite has
 * one session, so the driver hands out one connection at a time: a
 * transaction holds it until it commits or rolls back, and other queries wait.
 *
 * @since 0.1.0
 */
import type { CompiledQuery, DatabaseConnection, DatabaseIntrospector, Dialect, Driver, QueryResult, TransactionSettings } from "kysely"
import { kysely } from "./kyselyModule.js"

/**
 * What the dialect uses of a PGlite instance: `PGlite` from
 * `@electric-sql/pglite` fits. A structural type, so that hosts on a PostgreSQL
 * server do not need PGlite's type declarations.
 *
 * @since 0.1.0
 * @category models
 */
export interface PgliteDatabase {
  readonly waitReady: Promise<void>
  query<T>(query: string, params?: Array<unknown>): Promise<{ readonly rows: Array<T>; readonly affectedRows?: number }>
  exec(query: string): Promise<Array<{ readonly rows: Array<unknown>; readonly affectedRows?: number }>>
}

class Mutex {
  private tail: Promise<void> = Promise.resolve()
  lock(): Promise<() => void> {
    let release!: () => void
    const next = new Promise<void>((resolve) => (release = resolve))
    const acquired = this.tail.then(() => release)
    this.tail = this.tail.then(() => next)
    return acquired
  }
}

class PgliteConnection implements DatabaseConnection {
  constructor(private readonly db: PgliteDatabase) {}
  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    // without parameters, the simple protocol: it also runs several statements (migrations)
    const result = query.parameters.length === 0
      ? ((await this.db.exec(query.sql)).at(-1) ?? { rows: [], affectedRows: 0 })
      : await this.db.query<R>(query.sql, [...query.parameters])
    return {
      rows: result.rows as Array<R>,
      ...(result.affectedRows !== undefined ? { numAffectedRows: BigInt(result.affectedRows) } : {})
    }
  }
  // eslint-disable-next-line require-yield
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error("PGlite dialect does not stream")
  }
}

class PgliteDriver implements Driver {
  private readonly mutex = new Mutex()
  private readonly releases = new WeakMap<DatabaseConnection, () => void>()
  constructor(private readonly db: PgliteDatabase) {}
  async init() {
    await this.db.waitReady
  }
  async acquireConnection(): Promise<DatabaseConnection> {
    const release = await this.mutex.lock()
    const connection = new PgliteConnection(this.db)
    this.releases.set(connection, release)
    return connection
  }
  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings) {
    const level = settings.isolationLevel ? ` isolation level ${settings.isolationLevel}` : ""
    await connection.executeQuery(kysely().CompiledQuery.raw(`begin${level}`))
  }
  async commitTransaction(connection: DatabaseConnection) {
    await connection.executeQuery(kysely().CompiledQuery.raw("commit"))
  }
  async rollbackTransaction(connection: DatabaseConnection) {
    await connection.executeQuery(kysely().CompiledQuery.raw("rollback"))
  }
  async releaseConnection(connection: DatabaseConnection) {
    this.releases.get(connection)?.()
    this.releases.delete(connection)
  }
  async destroy() {
    // the PGlite instance belongs to whoever created it
  }
}

/**
 * @example
 * ```ts
 * const pg = await PGlite.create("./data/jobs")
 * const db = new Kysely<Database>({ dialect: new PgliteDialect(pg) })
 * ```
 * @since 0.1.0
 * @category constructors
 */
export class PgliteDialect implements Dialect {
  constructor(private readonly db: PgliteDatabase) {}
  createDriver(): Driver {
    return new PgliteDriver(this.db)
  }
  createQueryCompiler() {
    return new (kysely().PostgresQueryCompiler)()
  }
  createAdapter() {
    return new (kysely().PostgresAdapter)()
  }
  // typed from the interface (Kysely<any>): a narrower Kysely type here makes TypeScript
  // compare two Kysely instantiations in hosts' type checks (TS2589 with kysely 0.28)
  createIntrospector(db: Parameters<Dialect["createIntrospector"]>[0]): DatabaseIntrospector {
    return new (kysely().PostgresIntrospector)(db)
  }
}
