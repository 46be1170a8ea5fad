/**
 * Two mistakes that threw a bare `TypeError`, which a host cannot tell from a
 * bug: two definitions of one type (at `start()`, from the registry), and a
 * BigInt a Standard Schema accepts in a payload (at enqueue, from
 * `JSON.stringify` inside the store). Now a tagged error naming the type, and
 * an `InvalidInput` naming the path; nothing is stored.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Schema } from "effect"
import { z } from "zod"
import { InvalidInput, InvalidOptions, JobDefinition, Jobtrack, MemoryStore, Runner, Tracker } from "@jobtrack/core"

const a = JobDefinition.make({ type: "send-email", payload: Schema.Struct({}), run: async () => null })
const b = JobDefinition.make({ type: "send-email", payload: Schema.Struct({}), run: async () => 1 })
const c = JobDefinition.make({ type: "other", payload: Schema.Struct({}), run: async () => null })

describe("two definitions of one type", () => {
  it("Jobtrack.make throws InvalidOptions naming the type (the same definition twice is fine)", () => {
    let error: unknown
    try {
      Jobtrack.make({ store: MemoryStore.layer, definitions: [a, c, b] })
    } catch (e) {
      error = e
    }
    assert.instanceOf(error, InvalidOptions)
    const e = error as InvalidOptions
    assert.deepStrictEqual(e.issues.map((i) => i.path), [["definitions", 2]])
    assert.strictEqual(e.message, `invalid Jobtrack options: definitions.2: two job definitions have the type "send-email" (also definitions.0)`)
    Jobtrack.make({ store: MemoryStore.layer, definitions: [a, c, a] })
  })

  it.effect("Runner.layer fails with it; Tracker.layer dies with it", () =>
    Effect.gen(function*() {
      const runner = yield* Layer.build(Runner.layer({ definitions: [a, b] })).pipe(Effect.provide(MemoryStore.layer), Effect.scoped, Effect.flip)
      assert.instanceOf(runner, InvalidOptions)
      assert.match(runner.message, /two job definitions have the type "send-email"/)
      const tracker = yield* Layer.build(Tracker.layer({ definitions: [a, b] })).pipe(
        Effect.provide(MemoryStore.layer),
        Effect.scoped,
        Effect.catchDefect((d) => Effect.succeed(d))
      )
      assert.instanceOf(tracker, InvalidOptions)
    }))
})

describe("a BigInt in a Standard Schema payload", () => {
  it("is an InvalidInput naming its path, and nothing is stored", async () => {
    const def = JobDefinition.make({
      type: "big",
      payload: z.object({ n: z.bigint(), items: z.array(z.object({ id: z.bigint() })) }),
      run: async () => null
    })
    const jobs = Jobtrack.make({ store: MemoryStore.layer, definitions: [def] })
    let error: unknown
    try {
      await jobs.enqueue(def, { n: 1n, items: [{ id: 2n }] })
    } catch (e) {
      error = e
    }
    assert.instanceOf(error, InvalidInput, String(error))
    const e = error as InvalidInput
    assert.deepStrictEqual(e.issues.map((i) => i.path.join(".")), ["payload.n", "payload.items.0.id"])
    assert.match(e.message, /payload\.n: Expected a JSON value, not a BigInt/)
    assert.strictEqual((await jobs.list()).items.length, 0)
    await jobs.close()
  })
})
