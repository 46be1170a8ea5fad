/**
 * A failed attempt's stored error text is cut to `maxErrorLength`: it is in
 * every view and list item of the job, and once per attempt in its errors,
 * so a handler throwing a megabyte of text would make every page of jobs
 * that large (an audit measured a 5 MB console page from a 1 MiB message).
 * Before, the whole text was stored.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { JobDefinition, RetryPolicy } from "@jobtrack/core"
import { setup, waitFor } from "./helpers.js"

describe("Runner: a failed attempt's error text", () => {
  it.effect("is stored cut to 4,096 characters, marked with an ellipsis", () =>
    Effect.gen(function*() {
      const def = JobDefinition.make({
        type: "loud",
        payload: Schema.Struct({}),
        retry: RetryPolicy.none,
        run: async () => {
          throw new Error("é".repeat(1_000_000))
        }
      })
      const { tracker } = yield* setup([def])
      const { job } = yield* tracker.enqueue(def, {})
      const failed = yield* waitFor(tracker, job.id, (v) => v.status === "failed")
      const message = failed.errorMessage ?? ""
      assert.strictEqual(message.length, 4_096)
      assert.isTrue(message.endsWith("…"))
      assert.isTrue(message.startsWith("ééé"))
      assert.deepStrictEqual(failed.errors.map((e) => e.message.length), [4_096])
    }))
})
