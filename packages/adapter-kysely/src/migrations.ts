/**
 * Versioned migrations of the jobtrack schema, three ways to run them:
 *
 * - {@link migrate}: jobtrack migrates its own schema (what `layerPostgres` and
 *   `layerPglite` do at start; safe from several processes at once: Kysely's
 *   migrator takes an advisory lock; refuses a database migrated by a newer
 *   jobtrack).
 * - {@link migrations}: the same migrations for the host's own Kysely `Migrator`,
 *   under any naming scheme. The store then checks the schema at start
 *   ({@link verify}) instead of migrating.
 * - plain SQL files in the package (`@jobtrack/adapter-kysely/sql/*.sql`), for
 *   hosts on other tools (dbmate, Flyway, Prisma), generated from these migrations.
 *
 * Every migration records itself in `<schema>.applied_migrations` in the same
 * transaction, whoever runs it: that table, not a migrator's ledger, is what
 * {@link verify} reads.
 *
 * Kysely's `Migrator` moved from `kysely` (0.28) to `kysely/migration` (0.29);
 * it is loaded from wherever the host's Kysely has it, so both work.
 *
 * @since 0.1.0
 */
import { load as loadKysely, sql } from "./kyselyModule.js"
import type { Kysely } from "kysely"
import { v0002 } from "./migrations/v0002.js"
import { v0003 } from "./migrations/v0003.js"
import { v0004 } from "./migrations/v0004.js"
import { v0005 } from "./migrations/v0005.js"
import { v0006 } from "./migrations/v0006.js"
import { v0007 } from "./migrations/v0007.js"
import { v0008 } from "./migrations/v0008.js"
import { v0009 } from "./migrations/v0009.js"
import { v0010 } from "./migrations/v0010.js"
import { v0011 } from "./migrations/v0011.js"
import { v0012 } from "./migrations/v0012.js"
import { v0013 } from "./migrations/v0013.js"
import { v0014 } from "./migrations/v0014.js"
import { v0015 } from "./migrations/v0015.js"
import { v0016 } from "./migrations/v0016.js"
import { v0017 } from "./migrations/v0017.js"
import { v0018 } from "./migrations/v0018.js"
import { v0019 } from "./migrations/v0019.js"
import { v0021 } from "./migrations/v0021.js"
import { v0022 } from "./migrations/v0022.js"
import { v0023 } from "./migrations/v0023.js"
import { v0024 } from "./migrations/v0024.js"
import { v0025 } from "./migrations/v0025.js"
import { v0026 } from "./migrations/v0026.js"
import { v0027 } from "./migrations/v0027.js"
import { v0028 } from "./migrations/v0028.js"
import { v0029 } from "./migrations/v0029.js"
import { v0031 } from "./migrations/v0031.js"
import { v0032 } from "./migrations/v0032.js"
import { v0033 } from "./migrations/v0033.js"
import { v0034 } from "./migrations/v0034.js"
import { v0035 } from "./migrations/v0035.js"
import { v0037 } from "./migrations/v0037.js"
import { v0038 } from "./migrations/v0038.js"
import { v0039 } from "./migrations/v0039.js"
import { v0040 } from "./migrations/v0040.js"
import { v0041 } from "./migrations/v0041.js"
import { v0042 } from "./migrations/v0042.js"
import { v0044 } from "./migrations/v0044.js"

/**
 * One migration, in the shape Kysely's `Migrator` runs.
 *
 * @since 0.1.0
 * @category models
 */
export interface Migration {
  readonly up: (db: Kysely<unknown>) => Promise<void>
  readonly down?: (db: Kysely<unknown>) => Promise<void>
}

/**
 * What {@link migrate} did (Kysely's `MigrationResultSet`).
 *
 * @since 0.1.0
 * @category models
 */
export interface MigrationResultSet {
  readonly error?: unknown
  readonly results?: ReadonlyArray<{
    readonly migrationName: string
    readonly direction: "Up" | "Down"
    readonly status: "Success" | "Error" | "NotExecuted"
  }>
}

/**
 * A schema name we can put into SQL text: lower-case letters, digits and `_`.
 *
 * @since 0.1.0
 * @category validation
 */
export const checkSchema = (schema: string): string => {
  if (!/^[a-z_][a-z0-9_]{0,49}$/.test(schema)) {
    throw new TypeError(`schema "${schema}" must match [a-z_][a-z0-9_]{0,49}`)
  }
  return schema
}

const live = "('pending', 'processing', 'retrying')"

/** A migration of the list; `migrations()` adds the recording. */
interface Step {
  readonly up: (db: Kysely<unknown>) => Promise<void>
  readonly down: (db: Kysely<unknown>) => Promise<void>
}

const v0001 = (s: string): Step => ({
  up: async (db: Kysely<unknown>) => {
    await sql.raw(`
      create schema if not exists "${s}";

      create table "${s}".jobs (
        id                uuid primary key,
        type              text not null,
        queue             text not null,
        payload           jsonb not null,
        result            jsonb,
        status            text not null check (status in
                            ('pending', 'processing', 'retrying', 'completed', 'failed', 'cancelled')),
        progress          double precision not null default 0,
        progress_message  text,
        error_message     text,
        errors            jsonb not null default '[]',
        attempts          integer not null default 0,
        max_attempts      integer not null check (max_attempts >= 1),
        priority          integer not null default 0,
        run_at            timestamptz not null,
        owner             text,
        key               text,
        group_key         text,
        group_limit       integer check (group_limit >= 1),
        locked_by         text,
        locked_until      timestamptz,
        token             integer not null default 0,
        cancel_requested  boolean not null default false,
        created_at        timestamptz not null,
        started_at        timestamptz,
        completed_at      timestamptz,
        next_retry_at     timestamptz,
        updated_at        timestamptz not null
      );

      -- rule 2: at most one live job per (type, key), enforced by the database
      create unique index jobs_live_key on "${s}".jobs (type, key)
        where key is not null and status in ${live};
      -- claim order, and queue position, over claimable jobs only
      create index jobs_claim on "${s}".jobs (queue, priority desc, run_at, id)
        where status in ('pending', 'retrying');
      -- running jobs: lease expiry and group counts
      create index jobs_processing on "${s}".jobs (group_key, locked_until)
        where status = 'processing';
      -- find by key (newest first), list by owner (newest first)
      create index jobs_type_key on "${s}".jobs (type, key, id desc) where key is not null;
      create index jobs_owner on "${s}".jobs (owner, id desc) where owner is not null;
      -- prune
      create index jobs_completed_at on "${s}".jobs (completed_at)
        where status in ('completed', 'failed', 'cancelled');

      -- Who is watching which job (tracker.watch, the SSE route): progress and status
      -- changes are announced only for watched jobs, because NOTIFY holds a global lock
      -- through commit and would serialize every claim and completion.
      create table "${s}".watches (
        job_id      uuid not null,
        watcher     text not null,
        expires_at  timestamptz not null,
        primary key (job_id, watcher)
      );

      -- rule 11: changes are announced on the channel 'jobtrack:<schema>' at commit
      create function "${s}".notify_row() returns trigger language plpgsql as $fn$
      declare
        kind text;
        r "${s}".jobs;
      begin
        if tg_op = 'DELETE' then
          kind := 'deleted'; r := old;
        elsif old.status is distinct from new.status and new.status = 'pending' then
          kind := 'enqueued'; r := new;
        elsif new.cancel_requested and not old.cancel_requested then
          kind := 'cancelRequested'; r := new;
        else
          if old.status is distinct from new.status then
            kind := 'status';
          elsif old.progress is distinct from new.progress or old.progress_message is distinct from new.progress_message then
            kind := 'progress';
          else
            return null;
          end if;
          r := new;
          if not exists (select 1 from "${s}".watches w where w.job_id = r.id and w.expires_at > now()) then
            return null;
          end if;
        end if;
        perform pg_notify('jobtrack:${s}', json_build_object(
          'i', r.id, 't', r.type, 'q', r.queue, 'k', kind, 's', r.status)::text);
        return null;
      end $fn$;
      create trigger jobs_notify_row after update or delete on "${s}".jobs
        for each row execute function "${s}".notify_row();

      -- a batch insert is one notification per (queue, type), naming its first job
      create function "${s}".notify_insert() returns trigger language plpgsql as $fn$
      declare r record;
      begin
        for r in select queue, type, min(id::text) as id from inserted group by queue, type loop
          perform pg_notify('jobtrack:${s}', json_build_object(
            'i', r.id, 't', r.type, 'q', r.queue, 'k', 'enqueued', 's', 'pending')::text);
        end loop;
        return null;
      end $fn$;
      create trigger jobs_notify_insert after insert on "${s}".jobs
        referencing new table as inserted for each statement execute function "${s}".notify_insert();

      -- rules 3-5: claim in claim order, honouring group limits across every claimer.
      -- Claimers are serialized by a transaction advisory lock, and each statement of
      -- this function sees what the previous claimer committed. Per queue, candidates
      -- come from an ordered scan of jobs_claim (groups already full filtered out);
      -- only the chosen rows are locked (SKIP LOCKED: a row a host is cancelling is
      -- skipped, not waited for).
      create function "${s}".claim(
        p_queues text[], p_types text[], p_worker text, p_limit integer,
        p_lease_ms integer, p_now timestamptz
      ) returns setof "${s}".jobs language plpgsql as $fn$
      declare
        v_queue text;
        v_left integer := p_limit;
        v_full text[];
        v_n integer;
      begin
        perform pg_advisory_xact_lock(hashtext('jobtrack.claim'), hashtext('${s}'));
        -- the lock is held until commit: do not hold it through a WAL flush. A claim lost in
        -- a database crash only means the job is claimed again (the old holder's writes are
        -- refused by the fencing token), which at-least-once execution allows anyway.
        perform set_config('synchronous_commit', 'off', true);
        select coalesce(array_agg(f.group_key), '{}') into v_full from (
          select group_key from "${s}".jobs where status = 'processing' and group_key is not null
          group by group_key having count(*) >= max(group_limit)
        ) f;
        foreach v_queue in array p_queues loop
          exit when v_left <= 0;
          return query
          with candidates as (
            select j.id, j.group_key, j.group_limit, j.priority, j.run_at
            from "${s}".jobs j
            where j.status in ('pending', 'retrying') and j.queue = v_queue
              and j.type = any(p_types) and j.run_at <= p_now
              and (j.group_key is null or not (j.group_key = any(v_full)))
            order by j.priority desc, j.run_at, j.id
            limit v_left * 4 + 16
          ), running as (
            select g.group_key, count(*)::integer as n from "${s}".jobs g
            where g.status = 'processing' and g.group_key in (select c.group_key from candidates c)
            group by g.group_key
          ), chosen as (
            select c.id from (
              select c.*, row_number() over (partition by c.group_key order by c.priority desc, c.run_at, c.id) as rn
              from candidates c
            ) c left join running g on g.group_key = c.group_key
            where c.group_key is null or c.rn + coalesce(g.n, 0) <= c.group_limit
            order by c.priority desc, c.run_at, c.id
            limit v_left
          ), locked as (
            select j.id from "${s}".jobs j
            where j.id in (select id from chosen) and j.status in ('pending', 'retrying')
            for update skip locked
          ), claimed as (
            update "${s}".jobs j set
              status = 'processing', attempts = j.attempts + 1, token = j.token + 1,
              locked_by = p_worker, locked_until = p_now + p_lease_ms * interval '1 millisecond',
              started_at = p_now, next_retry_at = null, cancel_requested = false, updated_at = p_now
            from locked where j.id = locked.id
            returning j.*
          )
          select * from claimed order by priority desc, run_at, id;
          get diagnostics v_n = row_count;
          v_left := v_left - v_n;
        end loop;
      end $fn$;
    `).execute(db)
  },
  down: async (db: Kysely<unknown>) => {
    await sql.raw(`
      drop function if exists "${s}".claim(text[], text[], text, integer, integer, timestamptz);
      drop table if exists "${s}".jobs;
      drop table if exists "${s}".watches;
      drop function if exists "${s}".notify_row();
      drop function if exists "${s}".notify_insert();
    `).execute(db)
  }
})

/**
 * The migrations (name `jobtrack_NNNN_what`), sorted by name: numbers are
 * assigned ahead and may land out of order, so the list is sorted here and
 * the migrator runs a missing earlier one after a later one
 * (`allowUnorderedMigrations`); each creates only its own objects.
 */
const list = (s: string): ReadonlyArray<readonly [string, Step]> =>
  ([
    ["jobtrack_0001_jobs", v0001(s)],
    ["jobtrack_0002_owner_keys", v0002(s)],
    ["jobtrack_0003_hook_deliveries", v0003(s)],
    ["jobtrack_0004_claim_plan", v0004(s)],
    ["jobtrack_0005_telemetry", v0005(s)],
    ["jobtrack_0006_steps", v0006(s)],
    ["jobtrack_0007_console", v0007(s)],
    ["jobtrack_0008_schedules", v0008(s)],
    ["jobtrack_0009_history", v0009(s)],
    ["jobtrack_0010_position_departures", v0010(s)],
    ["jobtrack_0011_claim_lock_when_grouped", v0011(s)],
    ["jobtrack_0012_console_scale", v0012(s)],
    ["jobtrack_0013_status_feed", v0013(s)],
    ["jobtrack_0014_claim_ordered_scan", v0014(s)],
    ["jobtrack_0015_status_feed_clock", v0015(s)],
    ["jobtrack_0016_console_one_index_less", v0016(s)],
    ["jobtrack_0017_view_row", v0017(s)],
    ["jobtrack_0018_console_type_queue_ranges", v0018(s)],
    ["jobtrack_0019_complete_many", v0019(s)],
    ["jobtrack_0021_console_one_queue_type_index", v0021(s)],
    ["jobtrack_0022_notify_when_needed", v0022(s)],
    ["jobtrack_0023_view_position_in_one_call", v0023(s)],
    ["jobtrack_0024_vacuum_index_cleanup", v0024(s)],
    ["jobtrack_0025_console_index_writes", v0025(s)],
    ["jobtrack_0026_claim_waits_holding_nothing", v0026(s)],
    ["jobtrack_0027_view_lighter_call", v0027(s)],
    ["jobtrack_0028_claim_completion_planned_once", v0028(s)],
    ["jobtrack_0029_view_flat_position_index_only", v0029(s)],
    ["jobtrack_0031_claim_counts_departures", v0031(s)],
    ["jobtrack_0032_watch_horizon", v0032(s)],
    ["jobtrack_0033_claim_random_token", v0033(s)],
    ["jobtrack_0034_watch_horizon_fails_open", v0034(s)],
    ["jobtrack_0035_view_counts_in_its_statement", v0035(s)],
    ["jobtrack_0037_hot_path_never_scans_jobs", v0037(s)],
    ["jobtrack_0038_view_skips_higher_not_due", v0038(s)],
    ["jobtrack_0039_retry_due_announced", v0039(s)],
    ["jobtrack_0040_view_group_count_skips_higher_not_due", v0040(s)],
    ["jobtrack_0041_view_statement_counts_only_when_needed", v0041(s)],
    ["jobtrack_0042_view_reads_steps_of_claimed_jobs", v0042(s)],
    ["jobtrack_0044_claim_waits_for_a_locked_head", v0044(s)]
  ] as Array<readonly [string, Step]>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))

/**
 * Marks a statement that only reads whether a migration was applied: the SQL
 * files (`sqlFiles.ts`) leave it out, since they are run by tools that keep
 * their own ledger.
 *
 * @internal
 */
export const probeMarker = "/* jobtrack: applied? */"

/**
 * Whether `name` already ran in schema `s`, by any of the ways to migrate: it is
 * in `<schema>.applied_migrations` (every migration records itself there), in
 * `migrate()`'s own ledger (databases migrated before migrations recorded
 * themselves), or it is the first migration and both its tables (`jobs`,
 * `watches`) exist.
 */
const alreadyApplied = async (db: Kysely<unknown>, s: string, name: string): Promise<boolean> => {
  const probe = async (text: string) => (await sql.raw<Record<string, unknown>>(`${probeMarker} ${text}`).execute(db)).rows
  const [tables] = await probe(`select to_regclass('"${s}".applied_migrations')::text as applied,
    to_regclass('"${s}".jobtrack_migration')::text as ledger, to_regclass('"${s}".jobs')::text as jobs,
    to_regclass('"${s}".watches')::text as watches`)
  if (tables === undefined) return false
  if (tables.applied != null && (await probe(`select 1 from "${s}".applied_migrations where name = '${name}'`)).length > 0) return true
  if (tables.ledger != null && (await probe(`select 1 from "${s}".jobtrack_migration where name = '${name}'`)).length > 0) return true
  // 0001's two tables, not a host's own `jobs` (in `public`, say): that one still fails 0001 (42P07)
  return name === "jobtrack_0001_jobs" && tables.jobs != null && tables.watches != null
}

/**
 * Each migration also records (or, down, forgets) itself in
 * `<schema>.applied_migrations`, inside the migrator's transaction. One that
 * is recorded there already (another way of migrating ran it: `migrate()`,
 * a host's migrator, the SQL files) is not run again, only recorded, so a
 * host can switch between the ways in either direction.
 */
const recorded = (s: string, name: string, m: Step): Migration => {
  const ledger = `
    create table if not exists "${s}".applied_migrations (
      name        text primary key,
      applied_at  timestamptz not null default now()
    );`
  return {
    up: async (db) => {
      if (!(await alreadyApplied(db, s, name))) await m.up(db)
      await sql.raw(`${ledger}
    insert into "${s}".applied_migrations (name) values ('${name}') on conflict (name) do nothing;`).execute(db)
    },
    down: async (db) => {
      await sql.raw(`${ledger}
    delete from "${s}".applied_migrations where name = '${name}';`).execute(db)
      await m.down(db)
    }
  }
}

/**
 * The migrations for a schema, by name, in order, for a host's own migration
 * provider. Kysely's `Migrator` requires migrations to run in name order, so a
 * host that already ran its own migrations either passes
 * `allowUnorderedMigrations: true` or renames these to sort after its own
 * (the names are free: the store checks `<schema>.applied_migrations`).
 *
 * @example
 * ```ts
 * const migrator = new Migrator({
 *   db,
 *   provider: { getMigrations: async () => ({ ...myMigrations, ...migrations("jobtrack") }) },
 *   allowUnorderedMigrations: true
 * })
 * ```
 * @since 0.1.0
 * @category migrations
 */
export const migrations = (schema = "jobtrack"): Record<string, Migration> => {
  const s = checkSchema(schema)
  return Object.fromEntries(list(s).map(([name, m]) => [name, recorded(s, name, m)]))
}

/**
 * The names of the migrations, in order.
 *
 * @since 0.1.0
 * @category migrations
 */
export const migrationNames: ReadonlyArray<string> = list("jobtrack").map(([name]) => name)

/**
 * The latest migration's name: a database at it is up to date.
 *
 * @since 0.1.0
 * @category migrations
 */
export const latest: string = migrationNames[migrationNames.length - 1]!

/**
 * A Kysely `Migrator` as {@link kyselyMigrator} returns it: the verbs a host
 * calls (Kysely's own class, typed here the same for Kysely 0.28 and 0.29).
 *
 * @since 0.2.0
 * @category migrations
 */
export interface KyselyMigrator {
  migrateToLatest(): Promise<MigrationResultSet>
  migrateDown(): Promise<MigrationResultSet>
  migrateTo(name: string): Promise<MigrationResultSet>
}

/**
 * The options of Kysely's `Migrator` that {@link kyselyMigrator} passes on.
 *
 * @since 0.2.0
 * @category migrations
 */
export interface KyselyMigratorProps<DB = unknown> {
  readonly db: Kysely<DB>
  readonly provider: { getMigrations(): Promise<Record<string, Migration>> }
  readonly migrationTableSchema?: string
  readonly migrationTableName?: string
  readonly migrationLockTableName?: string
  readonly allowUnorderedMigrations?: boolean
}

type MigratorClass = new (props: KyselyMigratorProps) => KyselyMigrator

/** Kysely's Migrator: in `kysely` up to 0.28, in `kysely/migration` from 0.29. */
const loadMigrator = async (): Promise<MigratorClass> => {
  const main = (await import("kysely")) as unknown as { readonly Migrator?: MigratorClass }
  if (typeof main.Migrator === "function") return main.Migrator
  const sub = (await import("kysely/migration")) as unknown as { readonly Migrator: MigratorClass }
  return sub.Migrator
}

/**
 * Kysely's own `Migrator`, built from wherever the host's Kysely has it: it
 * is exported by `kysely` up to 0.28 (what npm installs on Node 20) and by
 * `kysely/migration` from 0.29 (Node 22 and newer), and neither import works
 * on both. A host that runs jobtrack's migrations with its own, and should
 * run on either Kysely, builds its migrator here.
 *
 * @example
 * ```ts
 * const migrator = await kyselyMigrator({
 *   db,
 *   provider: { getMigrations: async () => ({ ...myMigrations, ...migrations("jobtrack") }) },
 *   allowUnorderedMigrations: true
 * })
 * const { error } = await migrator.migrateToLatest()
 * if (error) throw error
 * ```
 * @since 0.2.0
 * @category migrations
 */
export const kyselyMigrator = async <DB>(props: KyselyMigratorProps<DB>): Promise<KyselyMigrator> => {
  const Migrator = await loadMigrator()
  return new Migrator({ ...props, db: props.db as unknown as Kysely<unknown> })
}

const migrator = async <DB>(db: Kysely<DB>, schema: string): Promise<KyselyMigrator> => {
  const Migrator = await loadMigrator()
  return new Migrator({
    db: db as unknown as Kysely<unknown>,
    provider: { getMigrations: async () => migrations(schema) },
    migrationTableSchema: checkSchema(schema),
    migrationTableName: "jobtrack_migration",
    migrationLockTableName: "jobtrack_migration_lock",
    // a migration numbered before one already applied (numbers land out of order) still runs
    allowUnorderedMigrations: true
  })
}

const ensureSchema = async <DB>(db: Kysely<DB>, schema: string) => {
  await loadKysely()
  await sql.raw(`create schema if not exists "${checkSchema(schema)}"`).execute(db).catch((e: { code?: string }) => {
    // two processes creating the schema at once: the loser's error is harmless
    if (e.code !== "23505" && e.code !== "42P06") throw e
  })
}

/**
 * Migrate the schema to the latest version (or, with `to`, up or down to that
 * migration). Throws when a migration failed, or when the database was migrated
 * by a newer jobtrack (a migration it ran is unknown here).
 *
 * @since 0.1.0
 * @category migrations
 */
export const migrate = async <DB>(
  db: Kysely<DB>,
  options: { readonly schema?: string; readonly to?: string } = {}
): Promise<MigrationResultSet> => {
  const schema = options.schema ?? "jobtrack"
  await ensureSchema(db, schema)
  const m = await migrator(db, schema)
  const result = options.to === undefined ? await m.migrateToLatest() : await m.migrateTo(options.to)
  if (result.error) throw result.error
  return result
}

/**
 * Undo every jobtrack migration in the schema (drops the jobs table).
 *
 * @since 0.1.0
 * @category migrations
 */
export const migrateDown = async <DB>(db: Kysely<DB>, options: { readonly schema?: string } = {}): Promise<void> => {
  const schema = options.schema ?? "jobtrack"
  const m = await migrator(db, schema)
  while (true) {
    const result = await m.migrateDown()
    if (result.error) throw result.error
    if (!result.results || result.results.length === 0) return
  }
}

/**
 * The schema is not at the version this jobtrack needs: `missing` migrations
 * have not run (run them: {@link migrate}, {@link migrations}, or the SQL files),
 * or `unknown` ones have (a newer jobtrack migrated it: upgrade this process).
 *
 * @since 0.1.0
 * @category errors
 */
export class SchemaVersionError extends Error {
  readonly _tag = "SchemaVersionError"
  constructor(readonly schema: string, readonly missing: ReadonlyArray<string>, readonly unknown: ReadonlyArray<string>) {
    super(
      missing.length > 0
        ? `the jobtrack schema "${schema}" is behind: migration ${missing.join(", ")} has not run ` +
          `(run jobtrack's migrations: migrate(), migrations() in your migrator, or the SQL files)`
        : `the jobtrack schema "${schema}" was migrated by a newer jobtrack (${unknown.join(", ")}): upgrade @jobtrack/adapter-kysely`
    )
  }
}

const exists = async <DB>(db: Kysely<DB>, schema: string, table: string) => {
  await loadKysely()
  return (await sql<{ t: string | null }>`select to_regclass(${`"${schema}"."${table}"`})::text as t`.execute(db)).rows[0]?.t != null
}

/**
 * The migrations applied to the schema, whoever ran them.
 *
 * @since 0.1.0
 * @category migrations
 */
export const applied = async <DB>(db: Kysely<DB>, options: { readonly schema?: string } = {}): Promise<ReadonlyArray<string>> => {
  const schema = checkSchema(options.schema ?? "jobtrack")
  const names = new Set<string>()
  if (await exists(db, schema, "applied_migrations")) {
    const rows = await sql<{ name: string }>`select name from ${sql.id(schema, "applied_migrations")}`.execute(db)
    for (const r of rows.rows) names.add(r.name)
  }
  // Databases migrated before migrations recorded themselves: what `migrate` ran is in its
  // own ledger, and the jobs table exists only once the first migration ran.
  if (await exists(db, schema, "jobtrack_migration")) {
    const rows = await sql<{ name: string }>`select name from ${sql.id(schema, "jobtrack_migration")}`.execute(db)
    for (const r of rows.rows) names.add(r.name)
  }
  if (await exists(db, schema, "jobs")) names.add(migrationNames[0]!)
  return [...names]
}

/**
 * Check, without migrating, that the schema is at the version this jobtrack
 * needs. Throws {@link SchemaVersionError} naming the missing migrations (or
 * the unknown ones, from a newer jobtrack).
 *
 * @since 0.1.0
 * @category migrations
 */
export const verify = async <DB>(db: Kysely<DB>, options: { readonly schema?: string } = {}): Promise<void> => {
  const schema = checkSchema(options.schema ?? "jobtrack")
  const done = new Set(await applied(db, { schema }))
  const missing = migrationNames.filter((n) => !done.has(n))
  const unknown = [...done].filter((n) => !migrationNames.includes(n))
  if (missing.length > 0 || unknown.length > 0) throw new SchemaVersionError(schema, missing, unknown)
}
