/**
 * Changes (rule 11): notifications of the schema's channel, heard through
 * the store's `Notifier`, as a stream; `watching`, the registration that
 * makes the trigger announce a job's progress and status changes; and
 * `watchingAll` ({@link StatusFeed}), every job's status changes, coarsely.
 *
 * @since 0.2.0
 */
import { Effect, PubSub, Stream } from "effect"
import type { Scope } from "effect"
import { JobId } from "@jobtrack/core"
import type { JobChange, JobChanged, JobStatus, JobStoreShape } from "@jobtrack/core"
import { sql } from "kysely"
import type * as Notifier from "../Notifier.js"
import type { StoreContext } from "./Context.js"
import * as StatusFeed from "./StatusFeed.js"

/**
 * Listen on the schema's channel for the store's lifetime.
 *
 * @since 0.2.0
 * @category changes
 */
export const changes = (
  ctx: StoreContext,
  notifier: Notifier.Notifier
): Effect.Effect<Pick<JobStoreShape, "changes" | "watching" | "watchingAll">, never, Scope.Scope> =>
  Effect.gen(function*() {
    const channel = `jobtrack:${ctx.schema}`
    const pubsub = yield* PubSub.unbounded<JobChange>()
    yield* Effect.addFinalizer(() => PubSub.shutdown(pubsub))
    yield* notifier.listen(
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
    )
    return { changes: Stream.fromPubSub(pubsub), watching: watching(ctx), watchingAll: yield* StatusFeed.make(ctx) }
  })

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
