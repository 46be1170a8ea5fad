/**
 * A durable step's result is checked against the runner's `maxResultBytes`
 * (UTF-8 bytes of its stored JSON, default 16 MiB) before it is stored, as a
 * job's result is: over it, the step is recorded failed with
 * `StepResultTooLarge` naming the step, the size and the limit, no result is
 * stored, and the job fails without another attempt (fatal). Before, a step's
 * result of any size was stored whole (a 2,000-character result completed the
 * step and the job under a 1,000-byte limit).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { JobDefinition, Step, isFatal } from "@jobtrack/core"
import { setup, waitFor } from "./helpers.js"

const settled = (v: { readonly status: string }) => v.status === "completed" || v.status === "failed"

describe("durable steps: a result over maxResultBytes", () => {
  it.effect("fails the step and the job, fatal, naming the step, its size and the limit; nothing stored", () =>
    Effect.gen(function*() {
      let ran = 0
      const def = JobDefinition.make({
        type: "big-step",
        payload: Schema.Struct({ text: Schema.String }),
        handler: ({ text }, ctx) =>
          Effect.gen(function*() {
            const small = yield* ctx.step("small", Effect.succeed({ n: 1 }))
            const big = yield* ctx.step("big", Effect.sync(() => (ran++, { text })))
            return { n: small.n, length: big.text.length }
          })
      })
      const { store, tracker } = yield* setup([def], { maxResultBytes: 1_000 })
      const { job } = yield* tracker.enqueue(def, { text: "x".repeat(2_000) })
      const failed = yield* waitFor(tracker, job.id, settled)
      assert.strictEqual(failed.status, "failed")
      assert.strictEqual(failed.attempts, 1, "not retried (the default policy has 3 retries)")
      assert.strictEqual(ran, 1)
      // {"text":"x…"}: 2,011 bytes, found without serializing
      const message = `step "big": result of at least 2,011 bytes as JSON is over the limit of 1,000 bytes (maxResultBytes)`
      assert.strictEqual(failed.errorMessage, message)
      const steps = yield* store.steps(job.id)
      assert.deepStrictEqual(steps.map((s) => [s.name, s.status, s.result, s.error]), [
        ["small", "completed", { n: 1 }, null],
        ["big", "failed", null, message]
      ])
    }))

  it.effect("async handlers too, measured exactly in UTF-8 bytes; a step within the limit completes", () =>
    Effect.gen(function*() {
      const def = JobDefinition.make({
        type: "async-big-step",
        payload: Schema.Struct({ n: Schema.Number }),
        run: async ({ n }, ctx) => (await ctx.step("chars", async () => "é".repeat(n))).length
      })
      const { store, tracker } = yield* setup([def], { maxResultBytes: 1_000 })
      // "é" is 2 bytes: 600 of them are 1,202 bytes as a JSON string, 400 are 802
      const over = yield* tracker.enqueue(def, { n: 600 })
      const under = yield* tracker.enqueue(def, { n: 400 })
      const failed = yield* waitFor(tracker, over.job.id, settled)
      assert.strictEqual(failed.status, "failed")
      assert.strictEqual(failed.attempts, 1)
      assert.strictEqual(
        failed.errorMessage,
        `step "chars": result of 1,202 bytes as JSON is over the limit of 1,000 bytes (maxResultBytes)`
      )
      assert.deepStrictEqual((yield* store.steps(over.job.id)).map((s) => [s.status, s.result]), [["failed", null]])
      const done = yield* waitFor(tracker, under.job.id, settled)
      assert.strictEqual(done.status, "completed")
      assert.strictEqual(done.result, 400)
      assert.deepStrictEqual((yield* store.steps(under.job.id)).map((s) => s.result), ["é".repeat(400)])
    }))

  it("StepResultTooLarge is a fatal tagged error naming the step", () => {
    const e = new Step.StepResultTooLarge({ name: "fetch", bytes: 2_000, limit: 1_000, exact: true })
    assert.strictEqual(e._tag, "StepResultTooLarge")
    assert.isTrue(isFatal(e))
    assert.strictEqual(e.message, `step "fetch": result of 2,000 bytes as JSON is over the limit of 1,000 bytes (maxResultBytes)`)
  })
})
