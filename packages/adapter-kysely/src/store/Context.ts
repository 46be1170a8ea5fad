/**
 * What every part of the Kysely store shares: the schema's tables, running a
 * query (driver errors become `StoreError`, classified by SQLSTATE), and the
 * shapes of a write (a holder's fenced write, a refusable transition, a
 * transition that records hook deliveries).
 *
 * @since 0.2.0
 */
import { Clock, Effect } from "effect"
import { InvalidTransition, JobId, JobNotFound, LeaseLost } from "@jobtrack/core"
import type { JobRecord, Lease, StoreError } from "@jobtrack/core"
import { kysely, sql } from "../kyselyModule.js"
import type { Kysely, RawBuilder } from "kysely"
import * as HookDeliveries from "../HookDeliveries.js"
import { marker } from "../Prepared.js"
import { jobColumns, toRecord } from "../Rows.js"
import type { JobRow } from "../Rows.js"
import { toStoreError } from "../SqlError.js"
import type { Direct } from "./Direct.js"
import type { Build, Columns } from "./Positional.js"

/**
 * Send a hot statement's fixed text with this call's parameters, through the
 * executor's `executeQuery`: no Kysely template built and compiled per call
 * (issue 13, item 3). Driver errors become StoreError, as with {@link Run}.
 */
export type Send = <R>(
  operation: string,
  text: string,
  parameters: ReadonlyArray<unknown>,
  executor?: Kysely<unknown>
) => Effect.Effect<ReadonlyArray<R>, StoreError>

/**
 * {@link Send} for a statement with fixed result columns `columns`: on
 * `postgres()`'s own pool its rows are read by position, each made its value
 * by `fromValues` (`Positional.ts`: no row description, no row object);
 * elsewhere (a host's Kysely, PGlite) they come as row objects, each made its
 * value by `fromRow`.
 */
export type SendPositional = <Row, A>(
  operation: string,
  text: string,
  parameters: ReadonlyArray<unknown>,
  columns: Columns,
  fromValues: Build<A>,
  fromRow: (row: Row) => A
) => Effect.Effect<ReadonlyArray<A>, StoreError>

/** Run a query; driver errors become StoreError, classified by SQLSTATE. */
export type Run = <R>(
  operation: string,
  query: RawBuilder<R>,
  executor?: Kysely<unknown>
) => Effect.Effect<ReadonlyArray<R>, StoreError>

/**
 * The store's shared context.
 *
 * @since 0.2.0
 * @category models
 */
export interface StoreContext {
  readonly schema: string
  readonly db: Kysely<unknown>
  /** `<schema>.jobs` */
  readonly jobs: RawBuilder<unknown>
  readonly run: Run
  readonly send: Send
  readonly sendPositional: SendPositional
}

/**
 * @since 0.2.0
 * @category constructors
 */
export const make = (db: Kysely<unknown>, schema: string, direct: Direct | undefined = undefined): StoreContext => ({
  schema,
  db,
  jobs: sql.id(schema, "jobs") as unknown as RawBuilder<unknown>,
  run: (operation, query, executor = db) =>
    Effect.tryPromise({
      try: () => query.execute(executor).then((r) => r.rows),
      catch: (e) => toStoreError(operation, e)
    }),
  send: <R>(operation: string, text: string, parameters: ReadonlyArray<unknown>, executor = db) =>
    Effect.tryPromise({
      try: (signal): Promise<ReadonlyArray<R>> =>
        direct !== undefined && executor === db
          // postgres()'s own pool (Direct.ts)
          ? direct.query<R>(text, parameters, signal)
          : executor.executeQuery<R>(kysely().CompiledQuery.raw(text, parameters as Array<unknown>)).then((r) => r.rows),
      catch: (e) => toStoreError(operation, e)
    }),
  sendPositional: <Row, A>(
    operation: string,
    text: string,
    parameters: ReadonlyArray<unknown>,
    columns: Columns,
    fromValues: Build<A>,
    fromRow: (row: Row) => A
  ) => {
    const positional = direct?.positional
    return Effect.tryPromise({
      try: (signal): Promise<ReadonlyArray<A>> =>
        positional !== undefined
          ? positional(text, parameters, columns, fromValues, signal)
          : db.executeQuery<Row>(kysely().CompiledQuery.raw(text, parameters as Array<unknown>)).then((r) => r.rows.map(fromRow)),
      catch: (e) => toStoreError(operation, e)
    })
  }
})

/**
 * `schema.name`, quoted as Kysely's `sql.id` quotes it (double quotes, a
 * double quote doubled): for statement texts written once per store.
 *
 * @internal
 */
export const qualified = (schema: string, name: string): string =>
  `"${schema.replaceAll("\"", "\"\"")}"."${name.replaceAll("\"", "\"\"")}"`

/** @internal */
export const iso = (ms: number): string => new Date(ms).toISOString()

/** @internal */
export const now = Clock.currentTimeMillis

/** @internal */
export const one = (rows: ReadonlyArray<JobRow>): JobRecord | undefined => (rows.length > 0 ? toRecord(rows[0]!) : undefined)

/** A transition that may end jobs: their hook deliveries go into the same statement (rule 12). */
export const recording = (ctx: StoreContext, update: RawBuilder<JobRow>): RawBuilder<JobRow> =>
  HookDeliveries.recording(ctx.schema, update)

/** A fixed statement text sent as a named prepared statement (`Prepared.ts`): for {@link StoreContext.send}. */
export const preparedText = (text: string): string => `${marker}${text}`

/** `query` sent as a named prepared statement (`Prepared.ts`): a fixed text with named result columns. */
export const prepared = <R>(query: RawBuilder<R>): RawBuilder<R> => sql<R>`${sql.raw(marker)}${query}`

/** The job, or JobNotFound (prepared: `Prepared.ts`; its columns named, `jobColumns`). */
export const getRow = (ctx: StoreContext, id: string): Effect.Effect<JobRecord, JobNotFound | StoreError> =>
  JobId.isValid(id)
    ? Effect.flatMap(ctx.run("get", prepared(sql<JobRow>`select ${sql.raw(jobColumns)} from ${ctx.jobs} where id = ${id}::uuid`)), (rows) => {
      const job = one(rows)
      return job ? Effect.succeed(job) : Effect.fail(new JobNotFound({ id }))
    })
    : Effect.fail(new JobNotFound({ id }))

/** A holder's write: no row means the lease is no longer held. */
export const held = (
  ctx: StoreContext,
  lease: Lease,
  operation: string,
  query: RawBuilder<JobRow>
): Effect.Effect<JobRecord, LeaseLost | StoreError> =>
  Effect.flatMap(ctx.run(operation, query), (rows) => {
    const job = one(rows)
    return job ? Effect.succeed(job) : Effect.fail(new LeaseLost({ id: lease.id, token: lease.token }))
  })

/** The condition of a holder's write: the lease's job, its token, still processing. */
export const holds = (lease: Lease): RawBuilder<unknown> =>
  sql`id = ${lease.id}::uuid and token = ${lease.token} and status = 'processing'`

/** A transition that may be refused: no row means not found or invalid. */
export const transition = (
  ctx: StoreContext,
  id: string,
  action: InvalidTransition["action"],
  query: RawBuilder<JobRow>
): Effect.Effect<JobRecord | undefined, JobNotFound | InvalidTransition | StoreError> =>
  Effect.gen(function*() {
    if (!JobId.isValid(id)) return yield* new JobNotFound({ id })
    const rows = yield* ctx.run(action, query).pipe(
      Effect.catchTag("StoreError", (e) =>
        (e.cause as { code?: string } | undefined)?.code === "23505"
          // retry would make a second live job with the same key
          ? Effect.flatMap(getRow(ctx, id), (job) => Effect.fail(new InvalidTransition({ id, action, status: job.status })))
          : Effect.fail(e))
    )
    if (rows.length > 0) return toRecord(rows[0]!)
    const current = yield* getRow(ctx, id)
    return yield* new InvalidTransition({ id, action, status: current.status })
  })
