/**
 * A handler's result is checked against the runner's `maxResultBytes`
 * (UTF-8 bytes of its JSON, default 16 MiB) before anything is stored: over
 * it, the attempt fails with `ResultTooLarge` naming the size and the limit,
 * fatal (no retry), and the job keeps no result. Before, a result of any
 * size was stored whole (a 17 MiB result completed the job).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { JobDefinition, ResultTooLarge, isFatal } from "@jobtrack/core"
import { setup, waitFor } from "./helpers.js"

const effectDef = JobDefinition.make({
  type: "big-effect",
  payload: Schema.Struct({ text: Schema.String }),
  handler: ({ text }) => Effect.succeed({ text })
})

const asyncDef = JobDefinition.make({
  type: "big-async",
  payload: Schema.Struct({ n: Schema.Number, char: Schema.String }),
  run: async ({ char, n }) => char.repeat(n)
})

// results whose JSON is not their own keys: Dates (26 bytes each as JSON), an object with toJSON
const datesDef = JobDefinition.make({
  type: "dates",
  payload: Schema.Struct({ n: Schema.Number }),
  run: async ({ n }) => Array.from({ length: n }, () => new Date(0))
})
const toJsonDef = JobDefinition.make({
  type: "to-json",
  payload: Schema.Struct({ n: Schema.Number }),
  run: async ({ n }) => ({ hidden: "x".repeat(n), toJSON: () => "small" })
})

const settled = (v: { readonly status: string }) => v.status === "completed" || v.status === "failed"

describe("Runner: a result over maxResultBytes", () => {
  it.effect("fails an Effect handler's attempt, fatal, naming its size and the limit; nothing stored", () =>
    Effect.gen(function*() {
      const { tracker } = yield* setup([effectDef], { maxResultBytes: 1_000 })
      const { job } = yield* tracker.enqueue(effectDef, { text: "x".repeat(2_000) })
      const failed = yield* waitFor(tracker, job.id, settled)
      assert.strictEqual(failed.status, "failed")
      assert.strictEqual(failed.attempts, 1, "not retried (the default policy has 3 retries)")
      assert.isNull(failed.result)
      // {"text":"x…"}: 2,011 bytes, found without serializing
      assert.strictEqual(failed.errorMessage, "result of at least 2,011 bytes as JSON is over the limit of 1,000 bytes (maxResultBytes)")
    }))

  it.effect("is measured in UTF-8 bytes: exact between the bounds; a result within the limit completes", () =>
    Effect.gen(function*() {
      const { tracker } = yield* setup([asyncDef], { maxResultBytes: 1_000 })
      // "é" is 2 bytes: 600 of them are 1,202 bytes as a JSON string, 400 are 802
      const over = yield* tracker.enqueue(asyncDef, { char: "é", n: 600 })
      const under = yield* tracker.enqueue(asyncDef, { char: "é", n: 400 })
      const failed = yield* waitFor(tracker, over.job.id, settled)
      assert.strictEqual(failed.status, "failed")
      assert.strictEqual(failed.errorMessage, "result of 1,202 bytes as JSON is over the limit of 1,000 bytes (maxResultBytes)")
      const done = yield* waitFor(tracker, under.job.id, settled)
      assert.strictEqual(done.status, "completed")
      assert.strictEqual(done.result, "é".repeat(400))
    }))

  it.effect("defaults to 16 MiB, for a plain async handler too", () =>
    Effect.gen(function*() {
      const { tracker } = yield* setup([asyncDef])
      const { job } = yield* tracker.enqueue(asyncDef, { char: "x", n: 17 * 1024 * 1024 })
      const failed = yield* waitFor(tracker, job.id, settled)
      assert.strictEqual(failed.status, "failed")
      assert.strictEqual(failed.attempts, 1)
      assert.isNull(failed.result)
      assert.strictEqual(
        failed.errorMessage,
        "result of at least 17,825,794 bytes as JSON is over the limit of 16,777,216 bytes (maxResultBytes)"
      )
    }))

  it.effect("measures what JSON writes: Dates and toJSON, not the objects' own keys", () =>
    Effect.gen(function*() {
      const { tracker } = yield* setup([datesDef, toJsonDef], { maxResultBytes: 1_000 })
      // 200 Dates: 2 bytes to the walk each, 26 as JSON ("1970-01-01T00:00:00.000Z"): 5,401 bytes
      const dates = yield* tracker.enqueue(datesDef, { n: 200 })
      // 5,000 characters of own keys, but its JSON is "small"
      const small = yield* tracker.enqueue(toJsonDef, { n: 5_000 })
      const failed = yield* waitFor(tracker, dates.job.id, settled)
      assert.strictEqual(failed.status, "failed")
      assert.strictEqual(failed.errorMessage, "result of 5,401 bytes as JSON is over the limit of 1,000 bytes (maxResultBytes)")
      const done = yield* waitFor(tracker, small.job.id, settled)
      assert.strictEqual(done.status, "completed")
      // as a store writes it (the memory store keeps the value itself)
      assert.strictEqual(JSON.stringify(done.result), `"small"`)
    }))

  it("ResultTooLarge is a fatal tagged error", () => {
    const e = new ResultTooLarge({ bytes: 2_000, limit: 1_000, exact: true })
    assert.strictEqual(e._tag, "ResultTooLarge")
    assert.isTrue(isFatal(e))
  })
})
