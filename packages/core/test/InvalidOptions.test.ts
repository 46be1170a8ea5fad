/**
 * Options a plain JavaScript host can get wrong are checked where they are
 * given, all at once: one tagged `InvalidOptions` naming every problem. Before,
 * `runner: { concurrency: 0 }` was accepted and no job ever ran (`result()`
 * waited forever), and `lease: "soon", shutdownGrace: -5` threw an untagged
 * `Error("Invalid Input: soon")` naming only the first problem, at `start()`.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Schema } from "effect"
import { HookDelivery, InvalidOptions, JobDefinition, Jobtrack, MemoryStore, RetryPolicy, Runner } from "@jobtrack/core"

const def = JobDefinition.make({ type: "t", payload: Schema.Struct({}), run: async () => null })

/** What `f` threw: the error when tagged InvalidOptions, else a failed assertion. */
const thrown = (f: () => unknown): InvalidOptions => {
  try {
    f()
  } catch (e) {
    assert.instanceOf(e, InvalidOptions, String(e))
    return e as InvalidOptions
  }
  return assert.fail("did not throw")
}

const paths = (e: InvalidOptions) => e.issues.map((i) => i.path.join("."))

describe("InvalidOptions", () => {
  it("Jobtrack.make names every bad runner option at once, before anything starts", () => {
    for (const concurrency of [0, -1, 1.5, "4"]) {
      const e = thrown(() =>
        Jobtrack.make({ store: MemoryStore.layer, definitions: [def], runner: { concurrency: concurrency as number } })
      )
      assert.deepStrictEqual(paths(e), ["runner.concurrency"])
    }
    const e = thrown(() =>
      Jobtrack.make({
        store: MemoryStore.layer,
        definitions: [def],
        watchPollInterval: 0,
        runner: {
          lease: "soon" as never,
          shutdownGrace: -5,
          pollInterval: Number.NaN,
          abandonAfter: Infinity,
          maxResultBytes: -1,
          heartbeat: "1 minute",
          prune: { after: "7 days", every: "often" as never },
          seriesSummary: { every: -1 },
          hookDelivery: { concurrency: 0, lease: "never" as never }
        }
      })
    )
    assert.strictEqual(e._tag, "InvalidOptions")
    assert.deepStrictEqual(paths(e), [
      "runner.lease",
      "runner.heartbeat",
      "runner.pollInterval",
      "runner.shutdownGrace",
      "runner.abandonAfter",
      "runner.maxResultBytes",
      "runner.prune.every",
      "runner.seriesSummary.every",
      "runner.hookDelivery.concurrency",
      "runner.hookDelivery.lease",
      "watchPollInterval"
    ])
    assert.match(e.message, /^invalid Jobtrack options: runner\.lease: must be a finite duration .*\(got "soon"\); /)
    assert.match(e.message, /runner\.shutdownGrace: must be a finite duration of zero or more.*\(got -5\)/)
  })

  it("valid options still make a Jobtrack that runs jobs", async () => {
    const jobs = Jobtrack.make({
      store: MemoryStore.layer,
      definitions: [def],
      runner: { concurrency: 1, lease: "5 seconds", heartbeat: 1000, shutdownGrace: 0, abandonAfter: "0 millis", prune: false }
    })
    await jobs.start()
    const { job } = await jobs.enqueue(def, {})
    assert.strictEqual(await jobs.result(job.id), null)
    await jobs.close()
  })

  it.effect("Runner.layer and HookDelivery.layer fail with it in the error channel", () =>
    Effect.gen(function*() {
      const runner = yield* Layer.build(Runner.layer({ definitions: [def], concurrency: 0, lease: "soon" as never })).pipe(
        Effect.provide(MemoryStore.layer),
        Effect.scoped,
        Effect.flip
      )
      assert.instanceOf(runner, InvalidOptions)
      assert.deepStrictEqual(paths(runner), ["concurrency", "lease"])
      assert.match(runner.message, /^invalid Runner options: concurrency: must be an integer of at least 1 \(got 0\); lease: /)
      const delivery = yield* Layer.build(HookDelivery.layer({ hooks: {}, types: [], concurrency: -1, pollInterval: "x" as never })).pipe(
        Effect.provide(MemoryStore.layer),
        Effect.scoped,
        Effect.exit
      )
      assert.isTrue(Exit.isFailure(delivery))
      const error = yield* Effect.flip(delivery)
      assert.deepStrictEqual(paths(error), ["concurrency", "pollInterval"])
    }))

  it("RetryPolicy constructors throw it, naming every problem", () => {
    const e = thrown(() => RetryPolicy.exponential({ initial: "soon" as never, factor: 0, cap: -1, maxRetries: -2 }))
    assert.deepStrictEqual(paths(e), ["initial", "factor", "cap", "maxRetries"])
    assert.match(e.message, /^invalid RetryPolicy\.exponential options: initial: .*\(got "soon"\)/)
    assert.deepStrictEqual(paths(thrown(() => RetryPolicy.fixed("soon" as never, 1.5))), ["delay", "maxRetries"])
    assert.deepStrictEqual(paths(thrown(() => RetryPolicy.fromSchedule(5 as never, Number.NaN))), ["schedule", "maxRetries"])
    assert.strictEqual(RetryPolicy.fixed("100 millis", 0).maxRetries, 0)
  })
})
