/**
 * The jobtrack store on PostgreSQL through Kysely: `pg` for servers, PGlite
 * embedded. Every state transition is one conditional statement (status and
 * fencing token), claims go through the `claim` function of the migrations
 * (SKIP LOCKED, group limits, serialized per schema), dedupe is a unique
 * partial index, and changes arrive by LISTEN/NOTIFY from a trigger.
 *
 * @since 0.1.0
 */
import { Clock, Effect, Layer, PubSub, Stream } from "effect"
import type { Scope } from "effect"
import { InvalidTransition, Job, JobId, JobNotFound, JobStore, LeaseLost, StoreError, Transaction } from "@jobtrack/core"
import type { JobChange, JobChanged, JobRecord, JobStatus, JobStoreShape, JobView, Lease, NewJob, Stats, StoreEnqueued as Enqueued, StoreLayer } from "@jobtrack/core"
import { sql } from "kysely"
import type { Kysely, RawBuilder, Transaction as KyselyTransaction } from "kysely"
import * as HookDeliveries from "./HookDeliveries.js"
import { checkSchema, verify } from "./migrations.js"
import * as Notifier from "./Notifier.js"
import { toRecord } from "./Rows.js"
import type { JobRow } from "./Rows.js"
import { toStoreError } from "./SqlError.js"

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

const iso = (ms: number) => new Date(ms).toISOString()
const pruneBatch = 10_000

/** The owner filter of list and stats: any owner, one owner, or none (`null`). */
const ownerIs = (owner: string | null | undefined) =>
  owner === undefined ? sql`true` : owner === null ? sql`owner is null` : sql`owner = ${owner}`

/** Whether a value is a Kysely transaction (or any Kysely instance). */
const isKysely = (u: unknown): u is Kysely<unknown> =>
  typeof u === "object" && u !== null && "selectFrom" in u && typeof (u as { executeQuery?: unknown }).executeQuery === "function"

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
    yield* Effect.tryPromise({
      try: () => verify(db, { schema }),
      catch: (e) =>
        e instanceof Error && (e as { _tag?: string })._tag === "SchemaVersionError"
          ? new StoreError({ reason: e.message, retryable: false, cause: e })
          : toStoreError("verify schema", e)
    })
    const jobs = sql.id(schema, "jobs")
    const watches = sql.id(schema, "watches")
    const channel = `jobtrack:${schema}`

    const pubsub = yield* PubSub.unbounded<JobChange>()
    yield* Effect.addFinalizer(() => PubSub.shutdown(pubsub))
    yield* (options.notifier ?? Notifier.none).listen(
      channel,
      (payload) => {
        try {
          const m = JSON.parse(payload) as { i: string; t: string; q: string; k: JobChanged["kind"]; s: JobStatus }
          PubSub.publishUnsafe(pubsub, { id: m.i, type: m.t, queue: m.q, kind: m.k, status: m.s })
        } catch {
          // not ours
        }
      },
      // notifications sent while the connection was down are lost: readers re-read
      () => PubSub.publishUnsafe(pubsub, { kind: "resync" })
    )

    /** Run a query; driver errors become StoreError, classified by SQLSTATE. */
    const run = <R>(operation: string, query: RawBuilder<R>, executor: Kysely<unknown> = db) =>
      Effect.tryPromise({
        try: () => query.execute(executor).then((r) => r.rows),
        catch: (e) => toStoreError(operation, e)
      })
    const now = Clock.currentTimeMillis
    const one = (rows: ReadonlyArray<JobRow>) => (rows.length > 0 ? toRecord(rows[0]!) : undefined)
    /** A transition that may end jobs: their hook deliveries go into the same statement (rule 12). */
    const recording = (update: RawBuilder<JobRow>) => HookDeliveries.recording(schema, update)

    const getRow = (id: string) =>
      JobId.isValid(id)
        ? Effect.flatMap(run("get", sql<JobRow>`select * from ${jobs} where id = ${id}::uuid`), (rows) => {
          const job = one(rows)
          return job ? Effect.succeed(job) : Effect.fail(new JobNotFound({ id }))
        })
        : Effect.fail(new JobNotFound({ id }))

    /** A holder's write: no row means the lease is no longer held. */
    const held = (lease: Lease, operation: string, query: RawBuilder<JobRow>) =>
      Effect.flatMap(run(operation, query), (rows) => {
        const job = one(rows)
        return job ? Effect.succeed(job) : Effect.fail(new LeaseLost({ id: lease.id, token: lease.token }))
      })
    const holds = (lease: Lease) =>
      sql`id = ${lease.id}::uuid and token = ${lease.token} and status = 'processing'`

    /** A transition that may be refused: no row means not found or invalid. */
    const transition = (
      id: string,
      action: InvalidTransition["action"],
      query: RawBuilder<JobRow>
    ): Effect.Effect<JobRecord | undefined, JobNotFound | InvalidTransition | StoreError> =>
      Effect.gen(function*() {
        if (!JobId.isValid(id)) return yield* new JobNotFound({ id })
        const rows = yield* run(action, query).pipe(
          Effect.catchTag("StoreError", (e) =>
            (e.cause as { code?: string } | undefined)?.code === "23505"
              // retry would make a second live job with the same key
              ? Effect.flatMap(getRow(id), (job) => Effect.fail(new InvalidTransition({ id, action, status: job.status })))
              : Effect.fail(e))
        )
        if (rows.length > 0) return toRecord(rows[0]!)
        const current = yield* getRow(id)
        return yield* new InvalidTransition({ id, action, status: current.status })
      })

    const insert = (inputs: ReadonlyArray<NewJob>): Effect.Effect<ReadonlyArray<Enqueued>, StoreError> =>
      Effect.gen(function*() {
        if (inputs.length === 0) return []
        const trx = yield* Effect.service(Transaction)
        if (trx !== undefined && !isKysely(trx)) {
          return yield* new StoreError({ reason: "the transaction is not a Kysely transaction", retryable: false })
        }
        const executor = trx ?? db
        const at = iso(yield* now)
        const batch = (list: ReadonlyArray<NewJob>) =>
          JSON.stringify(list.map((j) => ({
            id: j.id,
            type: j.type,
            queue: j.queue,
            payload: j.payload,
            max_attempts: j.maxAttempts,
            priority: j.priority,
            run_at: j.runAt.toISOString(),
            owner: j.owner,
            key: j.key,
            group_key: j.groupKey,
            group_limit: j.groupLimit
          })))
        const out = new Map<string, Enqueued>()
        let pending = inputs
        for (let round = 0; round < 5 && pending.length > 0; round++) {
          const inserted = yield* run(
            "enqueue",
            sql<{ id: string }>`
              insert into ${jobs} (id, type, queue, payload, max_attempts, priority, run_at, owner, key,
                group_key, group_limit, status, created_at, updated_at)
              select x.id, x.type, x.queue, x.payload, x.max_attempts, x.priority, x.run_at, x.owner, x.key,
                x.group_key, x.group_limit, 'pending', ${at}::timestamptz, ${at}::timestamptz
              from jsonb_to_recordset(${batch(pending)}::jsonb)
                as x(id uuid, type text, queue text, payload jsonb, max_attempts integer, priority integer,
                  run_at timestamptz, owner text, key text, group_key text, group_limit integer)
              on conflict (type, owner, key) where key is not null and status in ('pending', 'processing', 'retrying')
              do nothing
              returning id`,
            executor
          )
          // what was inserted is known: build the records here instead of shipping rows back
          const byId = new Map(pending.map((j) => [j.id, j]))
          for (const { id } of inserted) out.set(id, { job: Job.fromNew(byId.get(id)!, new Date(at)), created: true })
          const conflicted = pending.filter((j) => !out.has(j.id))
          if (conflicted.length === 0) break
          // the live job of the same (type, owner, key): key dedupe is per owner (rule 2)
          const existing = yield* run(
            "enqueue",
            sql<JobRow>`
              select j.* from ${jobs} j
              join unnest(${conflicted.map((j) => j.type)}::text[], ${conflicted.map((j) => j.owner)}::text[],
                ${conflicted.map((j) => j.key!)}::text[]) as u(type, owner, key)
                on j.type = u.type and j.key = u.key and j.owner is not distinct from u.owner
              where j.status in ('pending', 'processing', 'retrying') and j.key is not null`,
            executor
          )
          const identity = (j: { type: string; owner: string | null; key: string | null }) =>
            JSON.stringify([j.type, j.owner, j.key])
          const byKey = new Map(existing.map((row) => {
            const job = toRecord(row)
            return [identity(job), job]
          }))
          for (const j of conflicted) {
            const job = byKey.get(identity(j))
            if (job) out.set(j.id, { job, created: false })
          }
          // a conflicting job that became terminal meanwhile: insert those again
          pending = conflicted.filter((j) => !out.has(j.id))
        }
        return inputs.map((j) => out.get(j.id)!)
      })

    /**
     * The row and, when pending, its queue position (rule 8), in one query: 1 + the
     * claimable jobs of its queue ahead of it in claim order that will start before it.
     * Its own group's jobs ahead always do; another group's job counts only while that
     * group has room for it (running jobs of the group + the group's jobs ahead of it
     * < its limit), as in `claim`.
     */
    const view = (id: string): Effect.Effect<JobView, JobNotFound | StoreError> =>
      Effect.gen(function*() {
        if (!JobId.isValid(id)) return yield* new JobNotFound({ id })
        const t = iso(yield* now)
        const aheadOf = sql`o.queue = j.queue and o.status in ('pending', 'retrying') and o.run_at <= ${t}::timestamptz
          and o.id <> j.id
          and (o.priority > j.priority or (o.priority = j.priority
            and (o.run_at < j.run_at or (o.run_at = j.run_at and o.id < j.id))))`
        const rows = yield* run("view", sql<JobRow & { ahead: number | string | null; grouped: number | string | null }>`
          select j.*,
            case when j.status = 'pending' then (
              select count(*) from ${jobs} o where ${aheadOf} and (o.group_key is null or o.group_key = j.group_key)
            ) end as ahead,
            case when j.status = 'pending' then (
              select count(*) from (
                select o.group_key, o.group_limit,
                  row_number() over (partition by o.group_key order by o.priority desc, o.run_at, o.id) - 1 as before
                from ${jobs} o where ${aheadOf} and o.group_key is not null and o.group_key is distinct from j.group_key
              ) g
              where g.group_limit is null or g.before + (
                select count(*) from ${jobs} r where r.status = 'processing' and r.group_key = g.group_key
              ) < g.group_limit
            ) end as grouped
          from ${jobs} j where j.id = ${id}::uuid`)
        if (rows.length === 0) return yield* new JobNotFound({ id })
        const row = rows[0]!
        return {
          ...toRecord(row),
          queuePosition: row.status === "pending" ? Number(row.ahead) + Number(row.grouped) + 1 : null
        }
      })

    const store: JobStoreShape = {
      enqueue: (job) => Effect.map(insert([job]), (r) => r[0]!),
      enqueueMany: insert,
      get: getRow,
      findByKey: (type, key) =>
        Effect.flatMap(
          run("findByKey", sql<JobRow>`select * from ${jobs} where type = ${type} and key = ${key} order by id desc limit 1`),
          (rows) => {
            const job = one(rows)
            return job ? Effect.succeed(job) : Effect.fail(new JobNotFound({ id: `${type}:${key}` }))
          }
        ),
      claim: ({ leaseMs, limit, queues, types, workerId }) =>
        limit <= 0
          ? Effect.succeed([])
          : Effect.flatMap(now, (t) =>
            Effect.map(
              run(
                "claim",
                sql<JobRow>`select * from ${sql.id(schema, "claim")}(${[...queues]}::text[], ${[...types]}::text[],
                  ${workerId}, ${limit}, ${Math.round(leaseMs)}, ${iso(t)}::timestamptz)`
              ),
              (rows) => rows.map(toRecord)
            )),
      heartbeat: (lease, leaseMs) =>
        Effect.flatMap(now, (t) =>
          Effect.map(
            held(lease, "heartbeat", sql<JobRow>`
              update ${jobs} set locked_until = ${iso(t + leaseMs)}::timestamptz
              where ${holds(lease)} returning *`),
            (job) => ({ cancelRequested: job.cancelRequested })
          )),
      progress: (lease, progress, message) =>
        Effect.flatMap(now, (t) =>
          Effect.flatMap(
            run("progress", sql<{ id: string }>`
              update ${jobs} set progress = ${progress}, progress_message = ${message}, updated_at = ${iso(t)}::timestamptz
              where ${holds(lease)} returning id`),
            (rows) => (rows.length > 0 ? Effect.void : Effect.fail(new LeaseLost({ id: lease.id, token: lease.token })))
          )),
      complete: (lease, result) =>
        Effect.flatMap(now, (t) =>
          held(lease, "complete", recording(sql<JobRow>`
            update ${jobs} set status = 'completed', result = ${JSON.stringify(result)}::jsonb, progress = 100,
              error_message = null, locked_by = null, locked_until = null, cancel_requested = false,
              completed_at = ${iso(t)}::timestamptz, updated_at = ${iso(t)}::timestamptz
            where ${holds(lease)} returning *`))),
      completeMany: (items) =>
        items.length === 0
          ? Effect.succeed({ completed: [], refused: [] })
          : Effect.flatMap(now, (t) =>
            Effect.map(
              run("completeMany", recording(sql<JobRow>`
                update ${jobs} j set status = 'completed', result = v.result, progress = 100,
                  error_message = null, locked_by = null, locked_until = null, cancel_requested = false,
                  completed_at = ${iso(t)}::timestamptz, updated_at = ${iso(t)}::timestamptz
                from jsonb_to_recordset(${
                JSON.stringify(items.map((i) => ({ id: i.lease.id, token: i.lease.token, result: i.result })))
              }::jsonb) as v(id uuid, token integer, result jsonb)
                where j.id = v.id and j.token = v.token and j.status = 'processing'
                returning j.*`)),
              (rows) => {
                const completed = rows.map(toRecord)
                const done = new Set(completed.map((j) => j.id))
                return { completed, refused: items.flatMap((i) => (done.has(i.lease.id) ? [] : [i.lease])) }
              }
            )),
      fail: ({ message, retryAt, ...lease }) =>
        Effect.flatMap(now, (t) => {
          const retry = retryAt === null ? null : retryAt.toISOString()
          return held(lease, "fail", recording(sql<JobRow>`
            update ${jobs} set
              status = case when ${retry}::timestamptz is null then 'failed' else 'retrying' end,
              error_message = ${message},
              errors = errors || jsonb_build_array(jsonb_build_object(
                'attempt', attempts, 'message', ${message}::text, 'at', ${iso(t)}::text)),
              run_at = coalesce(${retry}::timestamptz, run_at),
              next_retry_at = ${retry}::timestamptz,
              completed_at = case when ${retry}::timestamptz is null then ${iso(t)}::timestamptz else null end,
              locked_by = null, locked_until = null, cancel_requested = false, updated_at = ${iso(t)}::timestamptz
            where ${holds(lease)} returning *`))
        }),
      cancelled: (lease) =>
        Effect.flatMap(now, (t) =>
          held(lease, "cancelled", recording(sql<JobRow>`
            update ${jobs} set status = 'cancelled', locked_by = null, locked_until = null, cancel_requested = false,
              completed_at = ${iso(t)}::timestamptz, updated_at = ${iso(t)}::timestamptz
            where ${holds(lease)} returning *`))),
      release: (lease) =>
        Effect.flatMap(now, (t) =>
          held(lease, "release", recording(sql<JobRow>`
            update ${jobs} set
              status = case when cancel_requested then 'cancelled' else 'pending' end,
              completed_at = case when cancel_requested then ${iso(t)}::timestamptz else null end,
              attempts = attempts - 1, locked_by = null, locked_until = null, cancel_requested = false,
              updated_at = ${iso(t)}::timestamptz
            where ${holds(lease)} returning *`))),
      recoverExpired: () =>
        Effect.flatMap(now, (t) =>
          Effect.map(
            run("recoverExpired", recording(sql<JobRow>`
              update ${jobs} set
                error_message = 'worker lost: lease held by ' || coalesce(locked_by, '?') || ' expired',
                errors = errors || jsonb_build_array(jsonb_build_object('attempt', attempts,
                  'message', 'worker lost: lease held by ' || coalesce(locked_by, '?') || ' expired',
                  'at', ${iso(t)}::text)),
                status = case when cancel_requested then 'cancelled'
                  when attempts < max_attempts then 'retrying' else 'failed' end,
                run_at = case when not cancel_requested and attempts < max_attempts
                  then ${iso(t)}::timestamptz else run_at end,
                next_retry_at = case when not cancel_requested and attempts < max_attempts
                  then ${iso(t)}::timestamptz else null end,
                completed_at = case when cancel_requested or attempts >= max_attempts
                  then ${iso(t)}::timestamptz else null end,
                locked_by = null, locked_until = null, cancel_requested = false, updated_at = ${iso(t)}::timestamptz
              where status = 'processing' and locked_until <= ${iso(t)}::timestamptz
              returning *`)),
            (rows) => rows.map(toRecord)
          )),
      cancel: (id) =>
        Effect.flatMap(now, (t) =>
          Effect.map(
            transition(id, "cancel", recording(sql<JobRow>`
              update ${jobs} set
                status = case when status = 'processing' then status else 'cancelled' end,
                cancel_requested = status = 'processing',
                completed_at = case when status = 'processing' then completed_at else ${iso(t)}::timestamptz end,
                next_retry_at = case when status = 'processing' then next_retry_at else null end,
                updated_at = ${iso(t)}::timestamptz
              where id = ${id}::uuid and status in ('pending', 'retrying', 'processing')
              returning *`)),
            (job) => job!
          )),
      retry: (id) =>
        Effect.flatMap(now, (t) =>
          Effect.map(
            transition(id, "retry", sql<JobRow>`
              update ${jobs} set status = 'pending', attempts = 0, progress = 0, progress_message = null,
                result = null, run_at = ${iso(t)}::timestamptz, next_retry_at = null, started_at = null,
                completed_at = null, cancel_requested = false, updated_at = ${iso(t)}::timestamptz
              where id = ${id}::uuid and status in ('failed', 'cancelled')
              returning *`),
            (job) => job!
          )),
      delete: (id) =>
        Effect.asVoid(transition(id, "delete", sql<JobRow>`
          delete from ${jobs} where id = ${id}::uuid and status <> 'processing' returning *`)),
      list: (filter) =>
        Effect.gen(function*() {
          const limit = Math.min(Math.max(filter.limit ?? 50, 1), 500)
          if (filter.cursor !== undefined && !JobId.isValid(filter.cursor)) return { items: [], nextCursor: null }
          const where = [ownerIs(filter.owner)]
          if (filter.status !== undefined) where.push(sql`status = any(${[...filter.status]}::text[])`)
          if (filter.type !== undefined) where.push(sql`type = ${filter.type}`)
          if (filter.key !== undefined) where.push(sql`key = ${filter.key}`)
          if (filter.queue !== undefined) where.push(sql`queue = ${filter.queue}`)
          if (filter.cursor !== undefined) where.push(sql`id < ${filter.cursor}::uuid`)
          const rows = yield* run("list", sql<JobRow>`
            select * from ${jobs} where ${sql.join(where, sql` and `)} order by id desc limit ${limit + 1}`)
          const items = rows.slice(0, limit).map(toRecord)
          return { items, nextCursor: rows.length > limit ? items[items.length - 1]!.id : null }
        }),
      queuePosition: (id) => Effect.map(view(id), (v) => v.queuePosition),
      view,
      stats: (filter) =>
        Effect.gen(function*() {
          const where = [ownerIs(filter.owner)]
          if (filter.type !== undefined) where.push(sql`type = ${filter.type}`)
          const cond = sql.join(where, sql` and `)
          const rows = yield* run("stats", sql<StatsRow>`
            with d as (
              select type, status,
                case when status = 'completed' and started_at is not null and completed_at is not null
                  then extract(epoch from (completed_at - started_at)) * 1000 end as ms
              from ${jobs} where ${cond}
            )
            select type, status, count(*) as n, avg(ms)::float8 as mean,
              percentile_disc(0.5) within group (order by ms)::float8 as p50,
              percentile_disc(0.95) within group (order by ms)::float8 as p95,
              count(ms) as durations
            from d group by grouping sets ((type, status), (type), ())`)
          return statsFrom(rows)
        }),
      prune: (before) =>
        Effect.gen(function*() {
          // with the finished jobs go the watch registrations of dead processes
          yield* run("prune", sql`delete from ${watches} where expires_at < now() - interval '1 hour'`)
          yield* HookDeliveries.prune(schema, run, before)
          // in batches, so that a first prune of millions of rows holds no long transaction
          let total = 0
          while (true) {
            const rows = yield* run("prune", sql<{ n: string | number }>`
              with gone as (
                delete from ${jobs} where id in (
                  select id from ${jobs} where status in ('completed', 'failed', 'cancelled')
                    and completed_at < ${before.toISOString()}::timestamptz
                  limit ${pruneBatch}
                )
                returning 1
              ) select count(*) as n from gone`)
            const n = Number(rows[0]?.n ?? 0)
            total += n
            if (n < pruneBatch) return total
          }
        }),
      ...HookDeliveries.verbs(schema, run),
      changes: Stream.fromPubSub(pubsub),
      watching: (id) => {
        if (!JobId.isValid(id)) return Effect.void
        const watcher = JobId.make()
        const register = run("watching", sql`
          insert into ${watches} (job_id, watcher, expires_at) values (${id}::uuid, ${watcher}, now() + interval '1 minute')
          on conflict (job_id, watcher) do update set expires_at = excluded.expires_at`)
        return Effect.acquireRelease(
          register,
          () => run("watching", sql`delete from ${watches} where job_id = ${id}::uuid and watcher = ${watcher}`).pipe(Effect.ignore)
        ).pipe(
          // refreshed while open; a watcher whose process died expires within a minute
          Effect.andThen(register.pipe(Effect.ignore, Effect.delay("20 seconds"), Effect.forever, Effect.forkScoped)),
          Effect.asVoid
        )
      }
    }
    return store
  })

/** One row of the stats query: per (type, status), per type (status null), and overall (both null). */
interface StatsRow {
  type: string | null
  status: JobStatus | null
  n: string | number
  mean: number | null
  p50: number | null
  p95: number | null
  durations: string | number
}

const statsFrom = (rows: ReadonlyArray<StatsRow>): Stats => {
  const empty = (): Record<JobStatus, number> => ({
    pending: 0, processing: 0, retrying: 0, completed: 0, failed: 0, cancelled: 0
  })
  const rate = (c: Record<JobStatus, number>) =>
    c.completed + c.failed === 0 ? null : c.completed / (c.completed + c.failed)
  const durationsOf = (r: StatsRow | undefined) => ({
    count: Number(r?.durations ?? 0),
    meanMs: r?.mean ?? null,
    p50Ms: r?.p50 ?? null,
    p95Ms: r?.p95 ?? null
  })
  const total = empty()
  const byType = new Map<string, { counts: Record<JobStatus, number>; row?: StatsRow }>()
  let overall: StatsRow | undefined
  for (const r of rows) {
    if (r.type === null) {
      overall = r
      continue
    }
    const entry = byType.get(r.type) ?? { counts: empty() }
    byType.set(r.type, entry)
    if (r.status === null) entry.row = r
    else {
      entry.counts[r.status] += Number(r.n)
      total[r.status] += Number(r.n)
    }
  }
  return {
    counts: total,
    successRate: rate(total),
    durations: durationsOf(overall),
    byType: [...byType.entries()]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([type, e]) => ({ type, counts: e.counts, successRate: rate(e.counts), durations: durationsOf(e.row) }))
  }
}

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

