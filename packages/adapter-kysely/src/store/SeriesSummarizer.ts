/**
 * The console charts' summary of finished minutes (`series_rollup`, migration
 * 0012), kept current in the background in bounded chunks, so that no chart
 * read waits for it (`AdminSeries.ts` reads it).
 *
 * The summarized minutes are one range `[lo, hi)` (`series_rolled`). A step,
 * one transaction under a try-lock (one process at a time, on any number of
 * machines; the others skip), summarizes one chunk: first forward, from `hi`
 * up to a minute (`lag`) before now; then backward, from `lo` down to `keep`
 * (two days) before now, newest first, so that after an upgrade the recent
 * hours are summarized first. A chunk holds about `chunkJobs` finished jobs
 * (found by counting entries of `jobs_admin_finished`, index-only), whole
 * minutes, at least one. A summary that stopped more than `keep` ago starts
 * afresh. Minutes that leave the two days are deleted.
 *
 * Runners call {@link Summarizer.step} every 30 s (`RunnerOptions.seriesSummary`),
 * step after step while more is due; a chart read that finds the summary
 * behind calls {@link Summarizer.kick}, which runs the same steps in the
 * background of the store's scope, once per process at a time, so that a
 * console without runners catches up too. Nothing is written when a job
 * finishes: the summary costs the processing path nothing.
 *
 * "Now" for a step is the earlier of the process's clock and the database's
 * (`statement_timestamp()`, read in the step's transaction): a process whose
 * clock runs ahead must not mark as summarized minutes that are still in
 * progress by the clocks of the database and of the other hosts (their
 * finishes would never be counted, and the buckets not marked partial). A
 * clock behind only summarizes later.
 *
 * A minute is summarized once: a job whose finish time lands in it later
 * (a worker clock more than `lag` behind) is not counted, and a summarized
 * job stays counted where it finished when it is later retried, deleted or
 * pruned.
 *
 * @since 0.2.0
 */
import { Clock, Effect } from "effect"
import type { Scope } from "effect"
import type { AdminStore, StoreError } from "@jobtrack/core"
import { sql } from "../kyselyModule.js"
import type { Kysely } from "kysely"
import { toStoreError } from "../SqlError.js"
import { binned, finished, ts } from "./SeriesSql.js"
import type { StoreContext } from "./Context.js"

/** A minute and a quarter hour, in ms. */
export const minute = 60_000
export const quarter = 900_000
/** How long after a minute ends it is summarized: finishes commit within it. */
export const lag = 60_000
/** How far back the summary reaches (and is kept). */
export const keep = 2 * 86_400_000
/** Finished jobs per chunk, about (at most one minute's more when a minute holds more). */
export const defaultChunkJobs = 50_000

/** The newest minute a summary may hold, and the oldest, at `now`. */
export const window = (now: number): { readonly horizon: number; readonly floor: number } => {
  const horizon = Math.floor((now - lag) / minute) * minute
  return { horizon, floor: horizon - keep }
}

/**
 * The summarized minutes `[lo, hi)`.
 *
 * @since 0.2.0
 * @category models
 */
export interface Rolled {
  readonly lo: number
  readonly hi: number
}

/**
 * @since 0.2.0
 * @category models
 */
export interface Summarizer {
  /** The summarized range, or null before the first step. */
  readonly state: Effect.Effect<Rolled | null, StoreError>
  /** One chunk, unless another process holds the summary (then `{ jobs: 0, more: false }`). */
  readonly step: () => Effect.Effect<AdminStore.SeriesSummaryStep, StoreError>
  /**
   * Catch up in the background of the store's scope (steps until nothing is
   * due or another process is at it), unless this process already does, its
   * last catch-up failed less than a minute ago, or its database refused a
   * write (a read-only replica: never again). Returns at once.
   */
  readonly kick: Effect.Effect<void>
}

/**
 * @since 0.2.0
 * @category models
 */
export interface SummarizerOptions {
  /** Finished jobs per chunk, about (default 50,000). */
  readonly chunkJobs?: number
}

/** How long a process does not kick again after a failed catch-up. */
const failurePause = 60_000

const readOnly = (e: StoreError) => (e.cause as { code?: string } | undefined)?.code === "25006"

/**
 * @since 0.2.0
 * @category constructors
 */
export const make = (ctx: StoreContext, scope: Scope.Scope, options: SummarizerOptions = {}): Summarizer => {
  const { db, jobs, schema } = ctx
  const rollup = sql.id(schema, "series_rollup")
  const rolled = sql.id(schema, "series_rolled")
  const chunkJobs = Math.max(1, Math.floor(options.chunkJobs ?? defaultChunkJobs))
  let running = false
  /** No kick before this time: after a failure (never again on a read-only database). */
  let pausedUntil = 0

  const readState = (executor: Kysely<unknown>) =>
    sql<{ lo: Date | string; hi: Date | string }>`select lo, hi from ${rolled}`.execute(executor).then((r) =>
      r.rows[0] ? { lo: new Date(r.rows[0].lo).getTime(), hi: new Date(r.rows[0].hi).getTime() } : null
    )

  /**
   * The far end of a chunk from `from` towards `to` (either direction): where
   * `chunkJobs` finished jobs have been passed, on a whole minute, at least one
   * minute away; `to` when fewer lie between.
   */
  const chunkEnd = async (trx: Kysely<unknown>, from: number, to: number) => {
    const forward = to > from
    const [a, b] = forward ? [from, to] : [to, from]
    const r = await sql<{ n: string | number; edge: Date | string | null }>`
      select count(*) as n, ${forward ? sql`max(completed_at)` : sql`min(completed_at)`} as edge from (
        select completed_at from ${jobs}
        where completed_at is not null and completed_at >= ${ts(a)} and completed_at < ${ts(b)}
        order by completed_at ${forward ? sql`asc` : sql`desc`} limit ${chunkJobs}
      ) c`.execute(trx)
    const n = Number(r.rows[0]?.n ?? 0)
    const edge = r.rows[0]?.edge
    if (n < chunkJobs || edge === null || edge === undefined) return to
    const t = new Date(edge).getTime()
    return forward
      ? Math.min(Math.max(Math.floor(t / minute) * minute, from + minute), to)
      : Math.max(Math.min(Math.ceil(t / minute) * minute, from - minute), to)
  }

  /** Finished jobs summarized in `[a, b)` (the overall minute rows by outcome). */
  const counted = async (trx: Kysely<unknown>, a: number, b: number) => {
    const r = await sql<{ n: string | number | null }>`
      select sum(n) as n from ${rollup} where width = 60 and scope = 3 and at >= ${ts(a)} and at < ${ts(b)} and metric = 0`
      .execute(trx)
    return Number(r.rows[0]?.n ?? 0)
  }

  /**
   * Summarize the minutes `[a, b)` into minute rows and (added to) quarter rows,
   * written in key order so that a chart's range of rows lies on few pages.
   */
  const summarize = (trx: Kysely<unknown>, a: number, b: number) =>
    sql`
      with src as (${finished(jobs, [[a, b]], sql`true`)}),
      m as (${binned(sql`to_timestamp(floor(extract(epoch from completed_at) / 60) * 60) as at, queue, type`, 3)}),
      scoped as (
        select m.at, s.scope, case when s.scope in (0, 1) then m.queue else '' end as queue,
          case when s.scope in (0, 2) then m.type else '' end as type, m.metric, m.bin, sum(m.n) as n
        from m cross join (values (0), (1), (2), (3)) as s(scope)
        group by 1, 2, 3, 4, 5, 6
      ),
      minutes as (
        insert into ${rollup} (width, scope, at, queue, type, metric, bin, n)
        select 60, scope, at, queue, type, metric, bin, n from scoped
        order by scope, at, queue, type, metric, bin
        on conflict (width, scope, at, queue, type, metric, bin) do update set n = ${rollup}.n + excluded.n
        returning 1
      )
      insert into ${rollup} (width, scope, at, queue, type, metric, bin, n)
      select 900, scope, to_timestamp(floor(extract(epoch from at) / 900) * 900), queue, type, metric, bin, sum(n) from scoped
      group by 2, 3, 4, 5, 6, 7
      order by 2, 3, 4, 5, 6, 7
      on conflict (width, scope, at, queue, type, metric, bin) do update set n = ${rollup}.n + excluded.n`.execute(trx)

  /** Rows older than `floor`, through the primary key (width and scope named, `at` a range). */
  const trim = (trx: Kysely<unknown>, floor: number) =>
    sql`delete from ${rollup} where width in (60, 900) and scope in (0, 1, 2, 3) and at < ${ts(floor)}`.execute(trx)

  const chunk = (now: number) => (trx: Kysely<unknown>): Promise<AdminStore.SeriesSummaryStep> =>
    (async () => {
      const lock = await sql<{ ok: boolean; now: Date | string }>`
        select pg_try_advisory_xact_lock(hashtext('jobtrack.series'), hashtext(${schema})) as ok,
          statement_timestamp() as now`.execute(trx)
      const held = lock.rows[0]
      if (!held?.ok) return { jobs: 0, more: false }
      // the earlier clock: minutes still in progress on the database's clock are not summarized
      const { floor, horizon } = window(Math.min(now, new Date(held.now).getTime()))
      const state = await readState(trx)
      let { hi, lo } = state ?? { lo: horizon, hi: horizon }
      if (state === null || hi < floor) {
        // nothing yet, or too old to join: start afresh, at the newest minute
        await sql`delete from ${rollup}`.execute(trx)
        lo = hi = horizon
      }
      let jobs = 0
      if (hi < horizon) {
        const end = await chunkEnd(trx, hi, horizon)
        await summarize(trx, hi, end)
        jobs = await counted(trx, hi, end)
        hi = end
      } else if (lo > floor) {
        const end = await chunkEnd(trx, lo, floor)
        await summarize(trx, end, lo)
        jobs = await counted(trx, end, lo)
        lo = end
      }
      if (lo < floor) {
        await trim(trx, floor)
        lo = floor
      }
      if (state === null || state.lo !== lo || state.hi !== hi) {
        await sql`
          insert into ${rolled} (one, lo, hi) values (true, ${ts(lo)}, ${ts(hi)})
          on conflict (one) do update set lo = excluded.lo, hi = excluded.hi`.execute(trx)
      }
      return { jobs, more: hi < horizon || lo > floor }
    })()

  // Uninterruptible: a step is one short transaction (about a second at most), and closing the
  // store or stopping a runner waits for it rather than leave it running on a connection that is
  // being released (or on a schema being dropped).
  const step = () =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Effect.tryPromise({
        try: () => db.transaction().execute(chunk(now)),
        catch: (e) => toStoreError("summarizeSeries", e)
      })).pipe(
        Effect.tapError((e) => Effect.sync(() => {
          if (readOnly(e)) pausedUntil = Infinity
        })),
        Effect.uninterruptible
      )

  const catchUp: Effect.Effect<void> = Effect.gen(function*() {
    while ((yield* step()).more) yield* Effect.yieldNow
  }).pipe(
    Effect.catchTag("StoreError", (e) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        // a replica, a lost connection…: the next reads answer without a kick for a minute
        pausedUntil = Math.max(pausedUntil, now + failurePause)
        return readOnly(e) ? Effect.void : Effect.logDebug(`jobtrack: chart summary failed: ${e.reason}`)
      })),
    Effect.ensuring(Effect.sync(() => {
      running = false
    }))
  )

  return {
    state: Effect.tryPromise({ try: () => readState(db), catch: (e) => toStoreError("series", e) }),
    step,
    kick: Effect.flatMap(Clock.currentTimeMillis, (now) => {
      if (running || now < pausedUntil) return Effect.void
      running = true
      return Effect.asVoid(Effect.forkIn(catchUp, scope))
    })
  }
}
