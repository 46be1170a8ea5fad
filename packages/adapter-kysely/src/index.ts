/**
 * The jobtrack store on PostgreSQL (pg) and embedded PostgreSQL (PGlite), through Kysely.
 *
 * @since 0.1.0
 */

/** @since 0.2.0 */
export * as DataDirLock from "./DataDirLock.js"
/** @since 0.1.0 */
export * as KyselyStore from "./KyselyStore.js"
/** @since 0.1.0 */
export * as Notifier from "./Notifier.js"
/** @since 0.2.0 */
export * as Prepared from "./Prepared.js"
/** @since 0.1.0 */
export * as SqlError from "./SqlError.js"
/** @since 0.2.0 */
export * as Timestamps from "./Timestamps.js"

export { layerPglite, layerPostgres, pglite, postgres } from "./connect.js"
export type { PgliteOptions, PostgresOptions } from "./connect.js"
export {
  applied,
  checkSchema,
  kyselyMigrator,
  latest,
  migrate,
  migrateDown,
  migrationNames,
  migrations,
  SchemaVersionError,
  verify
} from "./migrations.js"
export type { KyselyMigrator, KyselyMigratorProps, Migration, MigrationResultSet } from "./migrations.js"
export { PgliteDialect } from "./PgliteDialect.js"
import type { SqlMigration } from "./sqlFiles.js"
export type { SqlMigration }

/**
 * The migrations as plain SQL for a schema, for hosts on other migration
 * tools (dbmate, Flyway, Prisma, psql). Loaded when called (it is no part of
 * a store's import).
 *
 * @example
 * ```ts
 * import { sqlMigrations } from "@jobtrack/adapter-kysely"
 *
 * for (const m of await sqlMigrations("jobs")) console.log(m.name, m.up)
 * ```
 * @since 0.1.0
 */
export const sqlMigrations = async (schema = "jobtrack"): Promise<ReadonlyArray<SqlMigration>> =>
  (await import("./sqlFiles.js")).sqlMigrations(schema)
export type { PgliteDatabase } from "./PgliteDialect.js"
