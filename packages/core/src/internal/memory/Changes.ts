/**
 * The memory store's change feed: every write publishes its change, so a
 * subscriber sees them all and nothing needs watching.
 */
import { Effect } from "effect"
import type { JobStoreShape } from "../../JobStore.js"
import * as EffectModules from "../effectModules.js"
import type { State } from "./State.js"

/** The change verbs (loads effect's Stream, issue 13, item 6). */
export const changes = (state: State): Effect.Effect<Pick<JobStoreShape, "changes" | "watching" | "watchingAll">> =>
  Effect.map(EffectModules.Stream.load, (Stream) => ({
    changes: Stream.fromPubSub(state.pubsub),
    watching: () => Effect.void, // every change is announced
    watchingAll: Effect.void // every status change is announced (rule F1)
  }))
