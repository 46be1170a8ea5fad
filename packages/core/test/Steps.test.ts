import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { TestClock } from "effect/testing"
import { JobDefinition, RetryPolicy } from "@jobtrack/core"
import { setup } from "./helpers.js"

const Empty = Schema.Struct({})

describe("durable steps", () => {
  it.effect("a retried job replays completed steps from the store and continues at the first unfinished one", () =>
    Effect.gen(function*() {
      const ran: Array<string> = []
      const def = JobDefinition.make({
        type: "pipeline",
        payload: Empty,
        retry: RetryPolicy.fixed("1 second", 3),
        handler: (_, ctx) =>
          Effect.gen(function*() {
            const a = yield* ctx.step("connect", Effect.sync(() => (ran.push("connect"), { host: "imap" })))
            const b = yield* ctx.step("fetch", Effect.suspend(() => {
              ran.push(`fetch@${ctx.attempt}`)
              return ctx.attempt === 1 ? Effect.fail(new Error("mailbox busy")) : Effect.succeed([1, 2, 3])
            }))
            const c = yield* ctx.step("save", Effect.sync(() => (ran.push("save"), b.length)))
            return { host: a.host, saved: c }
          })
      })
      const { store, tracker } = yield* setup([def])
      const { job } = yield* tracker.enqueue(def, {})
      yield* TestClock.adjust("5 seconds")
      const view = yield* tracker.get(job.id)
      assert.strictEqual(view.status, "completed")
      assert.deepStrictEqual(view.result, { host: "imap", saved: 3 })
      assert.deepStrictEqual(ran, ["connect", "fetch@1", "fetch@2", "save"])
      assert.deepStrictEqual(view.steps?.map((s) => [s.name, s.status, s.attempts]), [
        ["connect", "completed", 1],
        ["fetch", "completed", 2],
        ["save", "completed", 1]
      ])
      const stored = yield* store.steps(job.id)
      assert.deepStrictEqual(stored.map((s) => s.result), [{ host: "imap" }, [1, 2, 3], 3])
    }))

  it.effect("a step's own retry policy retries it within the attempt; its timeout fails a try with StepTimeout", () =>
    Effect.gen(function*() {
      let tries = 0
      const def = JobDefinition.make({
        type: "retried-step",
        payload: Empty,
        retry: RetryPolicy.none,
        handler: (_, ctx) =>
          ctx.step(
            "download",
            Effect.suspend(() => (++tries < 3 ? Effect.sleep("1 minute") : Effect.succeed("ok"))),
            { retry: RetryPolicy.fixed("1 second", 3), timeout: "10 seconds" }
          )
      })
      const { store, tracker } = yield* setup([def])
      const { job } = yield* tracker.enqueue(def, {})
      yield* TestClock.adjust("1 minute")
      const view = yield* tracker.get(job.id)
      assert.strictEqual(view.status, "completed")
      assert.strictEqual(view.attempts, 1)
      assert.strictEqual(tries, 3)
      const [step] = yield* store.steps(job.id)
      assert.strictEqual(step!.attempts, 3)
      assert.strictEqual(step!.status, "completed")
    }))

  it.effect("a step that keeps timing out fails the attempt with StepTimeout's message", () =>
    Effect.gen(function*() {
      const def = JobDefinition.make({
        type: "slow-step",
        payload: Empty,
        retry: RetryPolicy.none,
        handler: (_, ctx) => ctx.step("download", Effect.sleep("1 minute"), { timeout: "2 seconds" })
      })
      const { store, tracker } = yield* setup([def])
      const { job } = yield* tracker.enqueue(def, {})
      yield* TestClock.adjust("10 seconds")
      const view = yield* tracker.get(job.id)
      assert.strictEqual(view.status, "failed")
      assert.strictEqual(view.errorMessage, `step "download" timed out after 2000 ms`)
      const [step] = yield* store.steps(job.id)
      assert.strictEqual(step!.status, "failed")
      assert.strictEqual(step!.error, `step "download" timed out after 2000 ms`)
    }))

  it.effect("two steps with the same name fail the job at once with DuplicateStepName", () =>
    Effect.gen(function*() {
      let runs = 0
      const def = JobDefinition.make({
        type: "dup",
        payload: Empty,
        retry: RetryPolicy.fixed("1 second", 5),
        handler: (_, ctx) =>
          Effect.gen(function*() {
            runs++
            yield* ctx.step("fetch", Effect.succeed(1))
            yield* ctx.step("fetch", Effect.succeed(2))
          })
      })
      const { tracker } = yield* setup([def])
      const { job } = yield* tracker.enqueue(def, {})
      yield* TestClock.adjust("1 minute")
      const view = yield* tracker.get(job.id)
      assert.strictEqual(view.status, "failed")
      assert.strictEqual(runs, 1)
      assert.match(view.errorMessage!, /step "fetch" is used twice in this job/)
    }))

  it.effect("a changed sequence of step names between attempts fails the job with StepSequenceChanged, mixing nothing", () =>
    Effect.gen(function*() {
      const ran: Array<string> = []
      const def = JobDefinition.make({
        type: "changing",
        payload: Empty,
        retry: RetryPolicy.fixed("1 second", 5),
        handler: (_, ctx) =>
          Effect.gen(function*() {
            yield* ctx.step("connect", Effect.sync(() => ran.push("connect")))
            if (ctx.attempt === 1) {
              yield* ctx.step("fetch", Effect.fail(new Error("busy")))
            } else {
              yield* ctx.step("fetch-v2", Effect.sync(() => ran.push("fetch-v2")))
            }
          })
      })
      const { tracker } = yield* setup([def])
      const { job } = yield* tracker.enqueue(def, {})
      yield* TestClock.adjust("1 minute")
      const view = yield* tracker.get(job.id)
      assert.strictEqual(view.status, "failed")
      assert.strictEqual(view.attempts, 2)
      assert.strictEqual(view.errorMessage, `the job's steps changed between attempts: step 2 was "fetch", now "fetch-v2"`)
      assert.deepStrictEqual(ran, ["connect"])
    }))

  it.effect("a step's schema validates its result and decodes it on replay", () =>
    Effect.gen(function*() {
      const seen: Array<unknown> = []
      const def = JobDefinition.make({
        type: "dated",
        payload: Empty,
        retry: RetryPolicy.fixed("1 second", 2),
        handler: (_, ctx) =>
          Effect.gen(function*() {
            const at = yield* ctx.step("stamp", Effect.succeed(new Date(Date.UTC(2026, 0, 2))), { schema: Schema.DateFromString })
            seen.push(at)
            if (ctx.attempt === 1) return yield* Effect.fail(new Error("again"))
            return null
          })
      })
      const { store, tracker } = yield* setup([def])
      const { job } = yield* tracker.enqueue(def, {})
      yield* TestClock.adjust("10 seconds")
      assert.strictEqual((yield* tracker.get(job.id)).status, "completed")
      assert.strictEqual(seen.length, 2)
      assert.instanceOf(seen[1], Date)
      assert.strictEqual((seen[1] as Date).toISOString(), "2026-01-02T00:00:00.000Z")
      assert.strictEqual(typeof (yield* store.steps(job.id))[0]!.result, "string")
    }))

  it.effect("durable sleep frees the worker slot, is not a failed attempt, and resumes after the duration past the sleep", () =>
    Effect.gen(function*() {
      const ran: Array<string> = []
      const def = JobDefinition.make({
        type: "sleepy",
        payload: Empty,
        retry: RetryPolicy.none,
        handler: (_, ctx) =>
          Effect.gen(function*() {
            yield* ctx.step("first", Effect.sync(() => ran.push("first")))
            yield* ctx.sleep("1 hour")
            yield* ctx.step("second", Effect.sync(() => ran.push("second")))
            return "done"
          })
      })
      const { runners, tracker } = yield* setup([def])
      const { job } = yield* tracker.enqueue(def, {})
      yield* TestClock.adjust("2 seconds")
      const sleeping = yield* tracker.get(job.id)
      assert.strictEqual(sleeping.status, "pending")
      assert.strictEqual(sleeping.attempts, 0)
      assert.deepStrictEqual(sleeping.errors, [])
      assert.deepStrictEqual(runners[0]!.running(), [])
      assert.deepStrictEqual(ran, ["first"])
      yield* TestClock.adjust("58 minutes")
      assert.strictEqual((yield* tracker.get(job.id)).status, "pending")
      yield* TestClock.adjust("2 minutes")
      const done = yield* tracker.get(job.id)
      assert.strictEqual(done.status, "completed")
      assert.strictEqual(done.result, "done")
      assert.strictEqual(done.attempts, 1, "the only attempt was not used by the sleep")
      assert.deepStrictEqual(ran, ["first", "second"])
      assert.deepStrictEqual(done.steps?.map((s) => s.name), ["first", "sleep#1", "second"])
    }))

  it.effect("async handlers: ctx.step and ctx.sleep", () =>
    Effect.gen(function*() {
      const ran: Array<string> = []
      const def = JobDefinition.make({
        type: "async-steps",
        payload: Empty,
        retry: RetryPolicy.fixed("1 second", 2),
        run: async (_, ctx) => {
          const a = await ctx.step("one", async () => (ran.push("one"), 20))
          await ctx.sleep("10 minutes")
          const b = await ctx.step("two", () => {
            ran.push(`two@${ctx.attempt}`)
            if (ctx.attempt === 1) throw new Error("flaky")
            return 22
          })
          return { sum: a + b }
        }
      })
      const { tracker } = yield* setup([def])
      const { job } = yield* tracker.enqueue(def, {})
      yield* TestClock.adjust("2 seconds")
      assert.strictEqual((yield* tracker.get(job.id)).status, "pending")
      yield* TestClock.adjust("11 minutes")
      const done = yield* tracker.get(job.id)
      assert.strictEqual(done.status, "completed")
      assert.deepStrictEqual(done.result, { sum: 42 })
      assert.deepStrictEqual(ran, ["one", "two@1", "two@2"])
      assert.deepStrictEqual(done.steps?.map((s) => [s.name, s.attempts]), [["one", 1], ["sleep#1", 1], ["two", 2]])
    }))
})
