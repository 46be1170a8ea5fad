/**
 * Changes (rule 11): notifications of the schema's channel, heard through
 * the store's `Notifier`, as a stream; `watching`, the registration that
 * makes the trigger announce a job's progress and status changes; and
 * `watchingAll` ({@link StatusFeed}), every job's status changes, coarsely
 * (read from the clock the trigger stamps, published on the same stream).
 *
 * The store listens only while someone subscribes: a process that only
 * enqueues holds no LISTEN and receives none of its own inserts'
 * notifications. The first subscription starts listening, the last one to
 * close stops it; a subscription is open once listening is (`Stream.toPull`
 * returns then, or after the notifier's few seconds of waiting for an
 * unreachable database, which later sends a `resync`).
 *
 * @since 0.2.0
 */
import { Deferred, Effect, Exit, Scope } from "effect"
import type { Stream } from "effect"
import { JobId } from "@jobtrack/core"
import type { JobChange, JobChanged, JobStatus, JobStoreShape } from "@jobtrack/core"
import { sql } from "../kyselyModule.js"
import * as EffectModules from "../effectModules.js"
import type * as Notifier from "../Notifier.js"
import type { StoreContext } from "./Context.js"
import * as StatusFeed from "./StatusFeed.js"

/**
 * The schema's changes, listened to while subscribed, for the store's lifetime.
 *
 * @since 0.2.0
 * @category changes
 */
export const changes = (
  ctx: StoreContext,
  notifier: Notifier.Notifier
): Effect.Effect<Pick<JobStoreShape, "changes" | "watching" | "watchingAll">, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { Channel, PubSub, Stream: Streams } = yield* EffectModules.load
    const channel = `jobtrack:${ctx.schema}`
    const pubsub = yield* PubSub.unbounded<JobChange>()
    yield* Effect.addFinalizer(() => PubSub.shutdown(pubsub))
    const listening = sharedListening(yield* Effect.scope, notifier.listen(
      channel,
      (payload) => {
        try {
          const m = JSON.parse(payload) as { i?: string; t: string; q: string; k: JobChanged["kind"] | "queue"; s: JobStatus }
          PubSub.publishUnsafe(
            pubsub,
            m.k === "queue" || m.i === undefined
              ? { kind: "queueChanged", type: m.t, queue: m.q, status: m.s }
              : { id: m.i, type: m.t, queue: m.q, kind: m.k, status: m.s }
          )
        } catch {
          // not ours
        }
      },
      // notifications sent while the connection was down are lost: readers re-read
      () => PubSub.publishUnsafe(pubsub, { kind: "resync" })
    ))
    const subscribe: Stream.Stream<JobChange> = Streams.fromChannel(Channel.fromTransform((upstream, scope) =>
      Effect.gen(function*() {
        // subscribed before listening starts: nothing heard after it is missed
        const subscription = yield* PubSub.subscribe(pubsub)
        yield* listening
        return yield* Channel.toTransform(Channel.fromSubscriptionArray(subscription))(upstream, scope)
      }).pipe(Scope.provide(scope))
    ))
    // the status feed's coarse changes are read (once a second, migration 0015), not notified
    const watchingAll = yield* StatusFeed.make(ctx, (c) => PubSub.publishUnsafe(pubsub, c))
    return { changes: subscribe, watching: watching(ctx), watchingAll }
  })

/**
 * One `listen` shared by every subscription: started (in a scope of its own
 * under the store's) by the first, stopped when the last closes. Returns,
 * in the subscription's scope, once listening.
 */
const sharedListening = (
  storeScope: Scope.Scope,
  listen: Effect.Effect<void, never, Scope.Scope>
): Effect.Effect<void, never, Scope.Scope> => {
  let subscribers = 0
  let session: { readonly scope: Scope.Closeable; readonly live: Deferred.Deferred<void> } | undefined
  const open = () => {
    const scope = Scope.forkUnsafe(storeScope)
    const live = Deferred.makeUnsafe<void>()
    session = { scope, live }
    return listen.pipe(
      Effect.ensuring(Deferred.done(live, Exit.void)),
      Scope.provide(scope),
      Effect.forkIn(scope),
      Effect.as(live)
    )
  }
  const close = Effect.suspend(() => {
    if (--subscribers > 0 || session === undefined) return Effect.void
    const { scope } = session
    session = undefined
    return Scope.close(scope, Exit.void)
  })
  return Effect.acquireRelease(
    Effect.suspend(() => subscribers++ === 0 || session === undefined ? open() : Effect.succeed(session.live)),
    () => close
  ).pipe(Effect.flatMap(Deferred.await))
}

const watching = (ctx: StoreContext): JobStoreShape["watching"] => (id) => {
  if (!JobId.isValid(id)) return Effect.void
  const watches = sql.id(ctx.schema, "watches")
  const watcher = JobId.make()
  const register = ctx.run("watching", sql`
    insert into ${watches} (job_id, watcher, expires_at) values (${id}::uuid, ${watcher}, now() + interval '1 minute')
    on conflict (job_id, watcher) do update set expires_at = excluded.expires_at`)
  return Effect.acquireRelease(
    register,
    () => ctx.run("watching", sql`delete from ${watches} where job_id = ${id}::uuid and watcher = ${watcher}`).pipe(Effect.ignore)
  ).pipe(
    // refreshed while open; a watcher whose process died expires within a minute
    Effect.andThen(register.pipe(Effect.ignore, Effect.delay("20 seconds"), Effect.forever, Effect.forkScoped)),
    Effect.asVoid
  )
}
