/**
 * The host's own database: records and their attachments, next to jobtrack's
 * tables, migrated together by the host's migrator. One Kysely instance serves
 * both, so an attachment and its extraction job commit together.
 */
import { PGlite } from "@electric-sql/pglite"
import { KyselyStore, migrations, Notifier, PgliteDialect } from "@jobtrack/adapter-kysely"
import { Kysely, PostgresDialect, sql } from "kysely"
import type { Generated } from "kysely"
import { Migrator } from "kysely/migration"
import pg from "pg"

export interface Database {
  records: { owner: string; id: string; name: string; created_at: Generated<Date> }
  attachments: {
    id: Generated<number>
    owner: string
    record_id: string
    file_url: string
    filename: string
    path: string | null
    created_at: Generated<Date>
  }
}

const hostMigrations = {
  "0001_records_and_attachments": {
    up: async (db: Kysely<unknown>) => {
      await sql`create table records (id text primary key, name text not null, created_at timestamptz not null default now())`.execute(db)
      await sql`create table attachments (
        id serial primary key,
        record_id text not null references records (id),
        file_url text not null,
        filename text not null,
        path text,
        created_at timestamptz not null default now())`.execute(db)
      await sql`create index attachments_file_url on attachments (file_url)`.execute(db)
    },
    down: async (db: Kysely<unknown>) => {
      await sql`drop table attachments, records`.execute(db)
    }
  },
  // Every record belongs to a user, and record ids are per user: ann's "rec-1" and bob's
  // "rec-1" are two records, so no id tells one user anything about another's data.
  // Records saved before owners existed go to the demo's admin, `ops`.
  "0002_record_owners": {
    up: async (db: Kysely<unknown>) => {
      await sql`alter table attachments drop constraint attachments_record_id_fkey`.execute(db)
      await sql`alter table records add column owner text not null default 'ops'`.execute(db)
      await sql`alter table records alter column owner drop default`.execute(db)
      await sql`alter table records drop constraint records_pkey`.execute(db)
      await sql`alter table records add primary key (owner, id)`.execute(db)
      await sql`alter table attachments add column owner text not null default 'ops'`.execute(db)
      await sql`alter table attachments alter column owner drop default`.execute(db)
      await sql`alter table attachments add foreign key (owner, record_id) references records (owner, id)`.execute(db)
    },
    down: async (db: Kysely<unknown>) => {
      await sql`alter table attachments drop constraint attachments_owner_record_id_fkey`.execute(db)
      await sql`alter table attachments drop column owner`.execute(db)
      await sql`alter table records drop constraint records_pkey`.execute(db)
      await sql`alter table records drop column owner`.execute(db)
      await sql`alter table records add primary key (id)`.execute(db)
      await sql`alter table attachments add foreign key (record_id) references records (id)`.execute(db)
    }
  }
}

export const openDatabase = async (options: { databaseUrl?: string | undefined; dataDir: string }) => {
  let db: Kysely<Database>
  let notifier: Notifier.Notifier
  let close: () => Promise<void>
  if (options.databaseUrl) {
    const pool = new pg.Pool({ connectionString: options.databaseUrl, max: 10, statement_timeout: 30_000 })
    pool.on("error", () => {})
    pool.on("connect", (c) => c.on("error", () => {}))
    db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) })
    notifier = Notifier.postgres(options.databaseUrl)
    close = () => db.destroy()
  } else {
    const pgl = await PGlite.create(options.dataDir)
    db = new Kysely<Database>({ dialect: new PgliteDialect(pgl) })
    notifier = Notifier.pglite(pgl)
    close = async () => {
      await db.destroy()
      await pgl.close()
    }
  }
  // jobtrack's migrations run in the host's own migration flow
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => ({ ...hostMigrations, ...migrations("jobtrack") }) }
  })
  const { error } = await migrator.migrateToLatest()
  if (error) throw error
  return { db, store: KyselyStore.layer({ db, schema: "jobtrack", notifier }), close }
}
