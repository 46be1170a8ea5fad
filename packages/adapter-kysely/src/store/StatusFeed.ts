/**
 * `watchingAll` (store rules F1–F2): one registration per store per process,
 * however many consoles are open in it. The first holder inserts a row in
 * `watches` for the nil job id (the trigger of migration 0013 then announces
 * every job's status changes, coarsely) and refreshes it every 20 s; the last
 * holder to leave deletes it. A process that dies leaves a row that expires
 * within a minute: from then on the trigger is quiet again.
 *
 * @since 0.3.0
 */
import { Effect, Exit, Scope, Semaphore } from "effect"
import { JobId } from "@jobtrack/core"
import type { JobStoreShape } from "@jobtrack/core"
import { sql } from "kysely"
import { feedJobId } from "../migrations/v0013.js"
import type { StoreContext } from "./Context.js"

/**
 * The store's `watchingAll`; the registration goes when the store's scope closes.
 *
 * @since 0.3.0
 * @category constructors
 */
export const make = (ctx: StoreContext): Effect.Effect<JobStoreShape["watchingAll"], never, Scope.Scope> =>
  Effect.gen(function*() {
    const watches = sql.id(ctx.schema, "watches")
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
        refreshing = scope
      }
      holders++
    }))
    const release = Semaphore.withPermit(lock, Effect.suspend(() => --holders === 0 ? stop : Effect.void))
    return Effect.acquireRelease(Effect.uninterruptible(acquire), () => release)
  })
