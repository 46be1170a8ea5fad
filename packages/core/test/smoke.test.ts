import { assert, it } from "@effect/vitest"
import { Effect, Layer, Schema, Stream } from "effect"
import { JobDefinition, MemoryStore, Runner, Tracker } from "@jobtrack/core"

const echo = JobDefinition.make({
  type: "echo",
  payload: Schema.Struct({ text: Schema.String }),
  result: Schema.Struct({ text: Schema.String }),
  handler: ({ text }, ctx) => Effect.gen(function*() {
    yield* ctx.progress(50, "half")
    return { text: text.toUpperCase() }
  })
})

it.live("smoke", () => Effect.gen(function*() {
  const tracker = yield* Tracker.Tracker
  const { job } = yield* tracker.enqueue(echo, { text: "hi" })
  const views = yield* Stream.runCollect(tracker.watch(job.id))
  const last = views[views.length - 1]!
  assert.strictEqual(last.status, "completed")
  assert.deepStrictEqual(last.result, { text: "HI" })
}).pipe(Effect.provide(Layer.mergeAll(Runner.layer({ definitions: [echo] }), Tracker.layer({ definitions: [echo] })).pipe(Layer.provideMerge(MemoryStore.layer)))))
