/**
 * `watchingAll` (store rules F1–F2): one registration per store per process,
 * however many consoles are open in it. The first holder inserts a row in
 * `watches` for the nil job id (the trigger of migration 0015 then stamps
 * `feed_clock` when a job of a queue and type reaches a status, at most every
 * 250 ms per row, and sends no notification) and refreshes it every 20 s; the
 * last holder to leave deletes it. A process that dies leaves a row that
 * expires within a minute: from then on the trigger is quiet again.
 *
 * While registered, the process reads the stamps of the last two seconds
 * once a second (one read, however many consoles) and announces each as a
 * coarse `queueChanged` on the store's changes: every status change reaches
 * the feed within about a second, some twice (a stamp is seen by two reads in
 * a row, so a change that did not stamp, within 250 ms of one that did, is
 * covered by a read after its commit).
 *
 * @since 0.2.0
 */
import { Effect, Exit, Scope } from "effect"
import { JobId } from "@jobtrack/core"
import type { JobStatus, JobStoreShape, QueueChanged } from "@jobtrack/core"
import { sql } from "../kyselyModule.js"
import { feedJobId } from "../migrations/v0013.js"
import type { StoreContext } from "./Context.js"
import * as EffectModules from "../effectModules.js"

/**
 * The store's `watchingAll`; the registration goes when the store's scope closes.
 *
 * @since 0.2.0
 * @category constructors
 */
export const make = (
  ctx: StoreContext,
  announce: (change: QueueChanged) => void
): Effect.Effect<JobStoreShape["watchingAll"], never, Scope.Scope> =>
  Effect.gen(function*() {
    const { Semaphore } = yield* EffectModules.load
    const watches = sql.id(ctx.schema, "watches")
    const clock = sql.id(ctx.schema, "feed_clock")
    const read = ctx.run("watchingAll", sql<{ queue: string; type: string; status: JobStatus }>`
      select queue, type, status from ${clock} where stamped_at > clock_timestamp() - interval '2 seconds'`).pipe(
        Effect.tap((rows) => Effect.sync(() => rows.forEach((r) => announce({ kind: "queueChanged", ...r })))),
        Effect.ignore
      )
    const watcher = `feed:${JobId.make()}`
    const register = ctx.run("watchingAll", sql`
      insert into ${watches} (job_id, watcher, expires_at) values (${feedJobId}::uuid, ${watcher}, now() + interval '1 minute')
      on conflict (job_id, watcher) do update set expires_at = excluded.expires_at`)
    const unregister = ctx.run("watchingAll", sql`
      delete from ${watches} where job_id = ${feedJobId}::uuid and watcher = ${watcher}`).pipe(Effect.ignore)
    const lock = yield* Semaphore.make(1)
    let holders = 0
    let refreshing: Scope.Closeable | undefined

    const stop = Effect.gen(function*() {
      const scope = refreshing
      refreshing = undefined
      if (scope) {
        yield* Scope.close(scope, Exit.void)
        yield* unregister
      }
    })
    yield* Effect.addFinalizer(() => Semaphore.withPermit(lock, stop))

    const acquire = Semaphore.withPermit(lock, Effect.gen(function*() {
      if (holders === 0) {
        yield* register
        const scope = yield* Scope.make()
        // refreshed while open; the row of a process that died expires within a minute
        yield* register.pipe(Effect.ignore, Effect.delay("20 seconds"), Effect.forever, Effect.forkIn(scope))
        yield* read.pipe(Effect.andThen(pause(1000)), Effect.forever, Effect.forkIn(scope))
        refreshing = scope
      }
      holders++
    }))
    const release = Semaphore.withPermit(lock, Effect.suspend(() => --holders === 0 ? stop : Effect.void))
    return Effect.acquireRelease(Effect.uninterruptible(acquire), () => release)
  })

/**
 * Wait `ms` of real time, whatever the fiber's `Clock`: the feed's read paces
 * database queries, and must run under a test's `TestClock` too.
 */
const pause = (ms: number): Effect.Effect<void> =>
  Effect.callback<void>((resume) => {
    const timer = setTimeout(() => resume(Effect.void), ms)
    return Effect.sync(() => clearTimeout(timer))
  })
