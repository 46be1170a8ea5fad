/**
 * The jobtrack store on PostgreSQL through Kysely: `pg` for servers, PGlite
 * embedded. Every state transition is one conditional statement (status and
 * fencing token), claims go through the `claim` function of the migrations
 * (SKIP LOCKED, group limits, serialized per schema), dedupe is a unique
 * partial index, and changes arrive by LISTEN/NOTIFY from a trigger.
 *
 * `make` only assembles the parts, one module each under `store/`: enqueue,
 * claim, the holder's lifecycle writes, the operator's commands, reads, the
 * queue position, retention, hook deliveries, the console's admin verbs, durable steps and changes.
 *
 * @since 0.1.0
 */
import { Effect, Layer } from "effect"
import type { Scope } from "effect"
import { JobStore, StoreError, Transaction } from "@jobtrack/core"
import type { JobStoreShape, StoreLayer } from "@jobtrack/core"
import type { Kysely, Transaction as KyselyTransaction } from "kysely"
import * as HookDeliveries from "./HookDeliveries.js"
import * as JobLogs from "./JobLogs.js"
import { load as loadKysely } from "./kyselyModule.js"
import { checkSchema, verify } from "./migrations.js"
import * as Notifier from "./Notifier.js"
import * as Schedules from "./Schedules.js"
import { toStoreError } from "./SqlError.js"
import { admin } from "./store/Admin.js"
import { series } from "./store/AdminSeries.js"
import { changes } from "./store/Changes.js"
import { claim } from "./store/Claim.js"
import { commands } from "./store/Commands.js"
import * as Context from "./store/Context.js"
import * as Direct from "./store/Direct.js"
import { insert } from "./store/Enqueue.js"
import { lifecycle } from "./store/Lifecycle.js"
import { position } from "./store/Position.js"
import { reads } from "./store/Reads.js"
import * as SeriesSummarizer from "./store/SeriesSummarizer.js"
import { prune } from "./store/Retention.js"
import { steps } from "./store/Steps.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface StoreOptions<DB> {
  /** Your Kysely instance (PostgreSQL dialect or `PgliteDialect`). */
  readonly db: Kysely<DB>
  /** Where the migrations put the tables (default "jobtrack"). */
  readonly schema?: string
  /** How this process hears of changes made by others (default: none, polling only). */
  readonly notifier?: Notifier.Notifier
  /**
   * The console charts' summary (docs/console.md, "Scale"): how many finished
   * jobs a summary step takes and a chart read bins directly at most, and
   * whether a chart read that finds the summary behind starts catching up in
   * this process (default true; false leaves it to the runners).
   *
   * @example
   * ```ts
   * KyselyStore.layer({ db, seriesSummary: { background: false } })
   * ```
   */
  readonly seriesSummary?: SeriesSummaryOptions
}

/**
 * @since 0.2.0
 * @category models
 */
export interface SeriesSummaryOptions {
  /** Finished jobs per summary step, about (default 50,000). */
  readonly chunkJobs?: number
  /** Finished jobs a chart read bins from the jobs at most where the summary will reach (default 5,000). */
  readonly directJobs?: number
  /** A chart read that finds the summary behind catches up in the background of this process (default true). */
  readonly background?: boolean
}

/**
 * Any Kysely transaction (whatever its database type): what the stores of
 * `layerPostgres` and `layerPglite` join, as they do not know the host's
 * database type. `KyselyStore.layer` takes the precise `Transaction<DB>`.
 *
 * @since 0.1.0
 * @category models
 */
export type AnyTransaction = Pick<KyselyTransaction<unknown>, "isTransaction" | "executeQuery">

/**
 * Build a store over migrated tables. It does not migrate: it checks that
 * every migration this version needs has run (whoever ran it: `migrate`, the
 * host's own migrator with `migrations()`, or the SQL files), and fails with a
 * `StoreError` naming the missing ones otherwise.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <DB>(options: StoreOptions<DB>): Effect.Effect<JobStoreShape, StoreError, Scope.Scope> =>
  Effect.gen(function*() {
    const schema = checkSchema(options.schema ?? "jobtrack")
    const db = options.db as unknown as Kysely<unknown>
    yield* Effect.promise(loadKysely)
    yield* Effect.tryPromise({
      try: () => verify(db, { schema }),
      catch: (e) =>
        e instanceof Error && (e as { _tag?: string })._tag === "SchemaVersionError"
          ? new StoreError({ reason: e.message, retryable: false, cause: e })
          : toStoreError("verify schema", e)
    })
    const ctx = Context.make(db, schema, Direct.of(db))
    const enqueueMany = insert(ctx)
    const charts = options.seriesSummary ?? {}
    const summarizer = SeriesSummarizer.make(ctx, yield* Effect.scope, charts)
    const store: JobStoreShape = {
      enqueue: (job) => Effect.map(enqueueMany([job]), (r) => r[0]!),
      enqueueMany,
      ...reads(ctx),
      claim: claim(ctx),
      ...lifecycle(ctx),
      ...commands(ctx),
      ...position(ctx),
      prune: prune(ctx),
      ...HookDeliveries.verbs(schema, ctx.run),
      ...admin(ctx, series(ctx, summarizer, charts)),
      summarizeSeries: summarizer.step,
      ...steps(ctx),
      ...JobLogs.verbs(schema, ctx.run),
      ...Schedules.verbs(schema, ctx.run),
      ...(yield* changes(ctx, options.notifier ?? Notifier.none))
    }
    return store
  })

/**
 * Run an Effect (a `Tracker` enqueue, typically) inside the host's Kysely
 * transaction, so the job commits or rolls back with the host's own writes:
 * the Effect form of the Promise facade's `{ transaction: trx }`, typed so that
 * only a Kysely `Transaction` compiles.
 *
 * @example
 * await db.transaction().execute((trx) =>
 *   Effect.runPromise(
 *     Tracker.Tracker.use((t) => t.enqueue(extract, { fileUrl })).pipe(
 *       KyselyStore.inTransaction(trx),
 *       Effect.provide(jobsLayer)
 *     )
 *   )
 * )
 *
 * @since 0.2.0
 * @category transactions
 */
export const inTransaction = <DB>(trx: KyselyTransaction<DB>) =>
<A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => Effect.provideService(self, Transaction, trx)

/**
 * The store as a layer. Its transaction type is the host's Kysely
 * `Transaction<DB>`: `jobs.enqueue(def, payload, { transaction: trx })` takes
 * only that.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = <DB>(options: StoreOptions<DB>): StoreLayer<KyselyTransaction<DB>> => Layer.effect(JobStore, make(options))

