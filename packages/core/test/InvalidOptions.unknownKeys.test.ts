/**
 * An option name a constructor does not know (a typo a plain JavaScript host
 * makes, TypeScript would have refused it) is one more problem of the same
 * `InvalidOptions`, naming the key and, when one is close, the option meant.
 * Before, `runner: { concurency: 4 }` was accepted and the default of 10 used
 * without a word; `hooks: { onComplete }` never called anything.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Schema } from "effect"
import {
  HookDelivery,
  InvalidOptions,
  JobDefinition,
  Jobtrack,
  MemoryStore,
  RetryPolicy,
  Runner,
  Tracker
} from "@jobtrack/core"

const def = JobDefinition.make({ type: "t", payload: Schema.Struct({}), run: async () => null })

const thrown = (f: () => unknown): InvalidOptions => {
  try {
    f()
  } catch (e) {
    assert.instanceOf(e, InvalidOptions, String(e))
    return e as InvalidOptions
  }
  return assert.fail("did not throw")
}

const issues = (e: InvalidOptions) => e.issues.map((i) => `${i.path.join(".")}: ${i.message}`)

/** Options as a plain JavaScript caller passes them: no excess-property check. */
const plain = <T = never>(u: object): T => u as T

describe("InvalidOptions: unknown option names", () => {
  it("Jobtrack.make names each unknown key, at every level, with the option meant", () => {
    const e = thrown(() =>
      Jobtrack.make(plain({
        store: MemoryStore.layer,
        definitions: [def],
        watchPolInterval: "1 second",
        hooks: { onComplete: () => undefined },
        runner: {
          concurency: 4,
          lease: "30 seconds",
          prune: { after: "7 days", evry: "1 hour" },
          seriesSummary: { every: "30 seconds", often: true },
          hookDelivery: { concurrency: 2, leese: "1 minute" },
          definitions: [def]
        },
        frobnicate: true
      }))
    )
    assert.deepStrictEqual(issues(e), [
      `runner.prune.every: must be a finite duration of more than zero, e.g. "30 seconds" or milliseconds as a number (got undefined)`,
      `runner.prune.evry: is not an option: did you mean "every"?`,
      `runner.seriesSummary.often: is not an option (the options are every)`,
      `runner.hookDelivery.leese: is not an option: did you mean "lease"?`,
      `runner.concurency: is not an option: did you mean "concurrency"?`,
      // Jobtrack's definitions are its own option, not the runner's
      `runner.definitions: is not an option (the options are concurrency, lease, heartbeat, pollInterval, progressInterval, shutdownGrace, abandonAfter, maxResultBytes, prune, seriesSummary, workerId, hookDelivery)`,
      `hooks.onComplete: is not an option: did you mean "onCompleted"?`,
      `watchPolInterval: is not an option: did you mean "watchPollInterval"?`,
      `frobnicate: is not an option (the options are store, definitions, hooks, runner, watchPollInterval, telemetry, schedules)`
    ])
  })

  it("every option of each constructor is still accepted, and a key set to undefined is no problem", async () => {
    const jobs = Jobtrack.make({
      store: MemoryStore.layer,
      definitions: [def],
      hooks: { onCompleted: () => undefined, onFailed: () => undefined, onCancelled: () => undefined },
      runner: {
        concurrency: 1,
        lease: "5 seconds",
        heartbeat: 1000,
        pollInterval: "1 second",
        progressInterval: "100 millis",
        shutdownGrace: 0,
        abandonAfter: "1 second",
        maxResultBytes: 1024,
        prune: { after: "7 days", every: "1 hour" },
        seriesSummary: { every: "30 seconds" },
        workerId: "w",
        hookDelivery: { concurrency: 1, lease: "1 minute", pollInterval: "1 second", retry: RetryPolicy.none, shutdownGrace: 0 }
      },
      watchPollInterval: "1 second",
      telemetry: undefined,
      schedules: [],
      ...(plain({ typo: undefined }) as object)
    })
    await jobs.start()
    const { job } = await jobs.enqueue(def, {})
    assert.strictEqual(await jobs.result(job.id), null)
    await jobs.close()
    const made = JobDefinition.make({
      type: "all",
      queue: "q",
      payload: Schema.Struct({}),
      result: Schema.Null,
      retry: RetryPolicy.exponential({ initial: "1 second", factor: 2, cap: "1 minute", maxRetries: 3, jitter: true }),
      timeout: "1 minute",
      group: { key: () => "g", limit: 2 },
      priority: 1,
      handler: () => Effect.succeed(null)
    })
    // a definition spread into make (to change one field) has only its options
    assert.strictEqual((JobDefinition.make as (options: object) => JobDefinition.Any)({ ...made, priority: 2 }).priority, 2)
  })

  it("JobDefinition.make and RetryPolicy.exponential name unknown keys, the group's too", () => {
    const e = thrown(() =>
      JobDefinition.make(plain({
        type: "x",
        payload: Schema.Struct({}),
        run: async () => null,
        retries: RetryPolicy.none,
        timout: "1 minute",
        group: { key: () => "g", limit: 1, limt: 2 }
      }))
    )
    assert.deepStrictEqual(issues(e), [
      `group.limt: is not an option: did you mean "limit"?`,
      `retries: is not an option: did you mean "retry"?`,
      `timout: is not an option: did you mean "timeout"?`
    ])
    assert.match(e.message, /^invalid job definition "x": /)
    const r = thrown(() => RetryPolicy.exponential(plain({ initial: "1 second", maxRetries: 3, jiter: true })))
    assert.deepStrictEqual(issues(r), [`jiter: is not an option: did you mean "jitter"?`])
  })

  it.effect("Runner.layer, HookDelivery.layer and Tracker.make name them too", () =>
    Effect.gen(function*() {
      const runner = yield* Layer.build(Runner.layer(plain<Runner.RunnerOptions<ReadonlyArray<typeof def>>>({ definitions: [def], pollIntervall: "1 second" }))).pipe(
        Effect.provide(MemoryStore.layer),
        Effect.scoped,
        Effect.flip
      )
      assert.deepStrictEqual(issues(runner), [`pollIntervall: is not an option: did you mean "pollInterval"?`])
      const delivery = yield* Layer.build(HookDelivery.layer(plain<HookDelivery.HookDeliveryOptions>({ hooks: {}, types: [], concurrenc: 2 }))).pipe(
        Effect.provide(MemoryStore.layer),
        Effect.scoped,
        Effect.flip
      )
      assert.deepStrictEqual(issues(delivery), [`concurrenc: is not an option: did you mean "concurrency"?`])
      const tracker = yield* Tracker.make(plain<Tracker.TrackerOptions>({ definitions: [def], watchPollIntervall: 5 })).pipe(
        Effect.provide(MemoryStore.layer),
        Effect.exit
      )
      assert.strictEqual(tracker._tag, "Failure")
      assert.match(String(tracker), /watchPollIntervall: is not an option: did you mean "watchPollInterval"\?/)
    }))
})
