/**
 * The jobtrack store on PostgreSQL (pg) and embedded PostgreSQL (PGlite), through Kysely.
 *
 * @since 0.1.0
 */

/** @since 0.1.0 */
export * as KyselyStore from "./KyselyStore.js"
/** @since 0.1.0 */
export * as Notifier from "./Notifier.js"
/** @since 0.1.0 */
export * as SqlError from "./SqlError.js"
/** @since 0.3.0 */
export * as Timestamps from "./Timestamps.js"

export { layerPglite, layerPostgres, pglite, postgres } from "./connect.js"
export type { PgliteOptions, PostgresOptions } from "./connect.js"
export {
  applied,
  checkSchema,
  latest,
  migrate,
  migrateDown,
  migrationNames,
  migrations,
  SchemaVersionError,
  verify
} from "./migrations.js"
export type { Migration, MigrationResultSet } from "./migrations.js"
export { PgliteDialect } from "./PgliteDialect.js"
export { sqlMigrations } from "./sqlFiles.js"
export type { SqlMigration } from "./sqlFiles.js"
export type { PgliteDatabase } from "./PgliteDialect.js"
