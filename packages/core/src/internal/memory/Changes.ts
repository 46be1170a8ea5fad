/**
 * The memory store's change feed: every write publishes its change, so a
 * subscriber sees them all and nothing needs watching. Each subscriber also
 * runs the announcer of delayed jobs that became due (`Due`), in its own
 * scope: while someone listens, a job due later is announced when due.
 */
import { Effect } from "effect"
import type { JobStoreShape } from "../../JobStore.js"
import * as EffectModules from "../effectModules.js"
import * as Due from "./Due.js"
import { announce } from "./State.js"
import type { State } from "./State.js"

/** The change verbs (loads effect's Stream and PubSub, issue 13, item 6). */
export const changes = (state: State): Effect.Effect<Pick<JobStoreShape, "changes" | "watching" | "watchingAll">> =>
  Effect.gen(function*() {
    const Stream = yield* EffectModules.Stream.load
    const PubSub = yield* EffectModules.PubSub.load
    const announcer = Due.announcer(state.due, state.jobs, (job) => announce(state, job, "enqueued"))
    return {
      // subscribed before the announcer starts, so it hears the announcer's first announcements
      changes: Stream.unwrap(Effect.gen(function*() {
        const subscription = yield* PubSub.subscribe(state.pubsub)
        yield* Effect.forkScoped(announcer)
        return Stream.fromSubscription(subscription)
      })),
      watching: () => Effect.void, // every change is announced
      watchingAll: Effect.void // every status change is announced (rule F1)
    }
  })
