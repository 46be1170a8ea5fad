import { assert, describe, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Schema } from "effect"
import { TestClock } from "effect/testing"
import * as v from "valibot"
import { z } from "zod"
import { FatalError, InvalidOptions, JobDefinition, RetryPolicy } from "@jobtrack/core"
import type { JobView } from "@jobtrack/core"
import { setup, waitFor } from "./helpers.js"

const Empty = Schema.Struct({})
const fast = RetryPolicy.fixed("10 millis", 3)

describe("async handlers (run)", () => {
  it.live("progress, log and result from an async function; the result is validated by its Zod schema", () =>
    Effect.gen(function*() {
      const seen: Array<number> = []
      const def = JobDefinition.make({
        type: "resize",
        payload: z.object({ url: z.url(), width: z.number().int().positive() }),
        result: z.object({ bytes: z.number() }),
        run: async ({ url, width }, ctx) => {
          await ctx.progress(40, `Resizing ${url}`)
          ctx.log("resizing", { width })
          seen.push(ctx.attempt)
          await new Promise((r) => setTimeout(r, 5))
          return { bytes: width * 10 }
        }
      })
      const { tracker } = yield* setup([def], { progressInterval: "1 millis" })
      const { job } = yield* tracker.enqueue(def, { url: "https://example.com/a.png", width: 30 })
      const done = yield* waitFor(tracker, job.id, (v) => v.status === "completed")
      assert.deepStrictEqual(done.result, { bytes: 300 })
      assert.strictEqual(done.progress, 100)
      assert.deepStrictEqual(seen, [1])
    }))

  it.live("an async handler may take its context apart (`{ progress, log, signal }`); a plain value is its result", () =>
    Effect.gen(function*() {
      const apart = JobDefinition.make({
        type: "apart",
        payload: Empty,
        run: async (_, { attempt, log, progress, signal }) => {
          await progress(70, "most of it")
          log("done soon")
          return { attempt, aborted: signal.aborted }
        }
      })
      const plain = JobDefinition.make({ type: "plain", payload: Empty, run: (_, { id }) => id.length })
      const { tracker } = yield* setup([apart, plain], { progressInterval: "1 millis" })
      const a = (yield* tracker.enqueue(apart, {})).job
      const b = (yield* tracker.enqueue(plain, {})).job
      const va = yield* waitFor(tracker, a.id, (v) => v.status === "completed")
      const vb = yield* waitFor(tracker, b.id, (v) => v.status === "completed")
      assert.deepStrictEqual(va.result, { attempt: 1, aborted: false })
      assert.strictEqual(va.progressMessage, "most of it")
      assert.strictEqual(vb.result, b.id.length)
    }))

  it.live("a FatalError thrown by an async handler fails after 1 attempt; an error marked fatal too", () =>
    Effect.gen(function*() {
      const runs: Record<string, number> = { fatal: 0, marked: 0 }
      class NotConnected extends Error {
        readonly fatal = true
      }
      const fatal = JobDefinition.make({
        type: "fatal",
        payload: Empty,
        retry: fast,
        run: async () => {
          runs.fatal!++
          throw new FatalError({ message: "mailbox not connected" })
        }
      })
      const marked = JobDefinition.make({
        type: "marked",
        payload: Empty,
        retry: fast,
        run: () => {
          runs.marked!++
          throw new NotConnected("account revoked")
        }
      })
      const { tracker } = yield* setup([fatal, marked], { pollInterval: "10 millis" })
      const a = (yield* tracker.enqueue(fatal, {})).job
      const b = (yield* tracker.enqueue(marked, {})).job
      const va = yield* waitFor(tracker, a.id, (v) => v.status === "failed")
      const vb = yield* waitFor(tracker, b.id, (v) => v.status === "failed")
      assert.deepStrictEqual([va.attempts, va.errorMessage], [1, "mailbox not connected"])
      assert.deepStrictEqual([vb.attempts, vb.errorMessage], [1, "account revoked"])
      assert.deepStrictEqual(runs, { fatal: 1, marked: 1 })
    }))

  it.live("any other throw is a retryable failure with its message kept", () =>
    Effect.gen(function*() {
      const def = JobDefinition.make({
        type: "flaky",
        payload: Empty,
        retry: fast,
        run: async (_, ctx) => {
          if (ctx.attempt < 3) throw new Error(`mailbox unreachable (attempt ${ctx.attempt})`)
          return "ok"
        }
      })
      const { tracker } = yield* setup([def], { pollInterval: "10 millis" })
      const { job } = yield* tracker.enqueue(def, {})
      const done = yield* waitFor(tracker, job.id, (v) => v.status === "completed")
      assert.strictEqual(done.attempts, 3)
      assert.deepStrictEqual(done.errors.map((e) => e.message), [
        "mailbox unreachable (attempt 1)",
        "mailbox unreachable (attempt 2)"
      ])
    }))

  it.live("async hooks run after the transition", () =>
    Effect.gen(function*() {
      const called = yield* Deferred.make<JobView>()
      const def = JobDefinition.make({ type: "quick", payload: Empty, run: () => 1 })
      const { tracker } = yield* setup([def], {
        hooks: {
          onCompleted: async (job) => {
            await new Promise((r) => setTimeout(r, 1))
            Deferred.doneUnsafe(called, Effect.succeed(job))
          }
        }
      })
      const { job } = yield* tracker.enqueue(def, {})
      const seen = yield* Deferred.await(called)
      assert.strictEqual(seen.id, job.id)
      assert.strictEqual(seen.status, "completed")
    }))
})

describe("FatalError and timeouts in Effect handlers", () => {
  it.effect("a FatalError thrown inside Effect.promise stops retrying (1 attempt, not 4)", () =>
    Effect.gen(function*() {
      let runs = 0
      const def = JobDefinition.make({
        type: "fatal-promise",
        payload: Empty,
        retry: RetryPolicy.fixed("1 second", 3),
        handler: () =>
          Effect.promise(async () => {
            runs++
            throw new FatalError({ message: "mailbox not connected" })
          })
      })
      const { tracker } = yield* setup([def])
      const { job } = yield* tracker.enqueue(def, {})
      yield* TestClock.adjust("1 minute")
      const final = yield* tracker.get(job.id)
      assert.deepStrictEqual([runs, final.status, final.attempts, final.errorMessage], [1, "failed", 1, "mailbox not connected"])
    }))

  it.effect("a timeout aborts ctx.signal with a TimeoutError", () =>
    Effect.gen(function*() {
      const reasons: Array<string> = []
      const def = JobDefinition.make({
        type: "slow",
        payload: Empty,
        retry: RetryPolicy.none,
        timeout: "2 seconds",
        handler: (_, ctx) =>
          Effect.sync(() => ctx.signal.addEventListener("abort", () => reasons.push((ctx.signal.reason as Error).name)))
            .pipe(Effect.andThen(Effect.never))
      })
      const { tracker } = yield* setup([def])
      const { job } = yield* tracker.enqueue(def, {})
      yield* TestClock.adjust("3 seconds")
      const final = yield* tracker.get(job.id)
      assert.deepStrictEqual(reasons, ["TimeoutError"])
      assert.deepStrictEqual([final.status, final.errorMessage], ["failed", "timed out after 2000 ms"])
    }))
})

describe("JobDefinition.make refuses bad options, naming each", () => {
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

  it("a negative, zero or invalid timeout; a bad type and group limit; both or neither handler", () => {
    const base = { type: "t", payload: Empty, handler: () => Effect.void }
    for (const timeout of [-1, 0, "-5 seconds", "soon", Number.NaN, Infinity] as const) {
      assert.throws(() => JobDefinition.make({ ...base, timeout: timeout as never }), /timeout: must be a finite duration of more than zero/)
    }
    assert.throws(
      () => JobDefinition.make({ ...base, type: "bad type", group: { key: () => null, limit: 0 } }),
      /^invalid job definition "bad type": type: must be .*; group\.limit: must be an integer of at least 1 \(got 0\)$/
    )
    assert.throws(() => JobDefinition.make({ type: "t", payload: Empty } as never), /exactly one of handler .* or run/)
    assert.throws(() => JobDefinition.make({ ...base, run: async () => 1 } as never), /exactly one of handler/)
    assert.strictEqual(Duration.toMillis(JobDefinition.make({ ...base, timeout: "1 second" }).timeout!), 1000)
  })

  // a plain JavaScript host gave `retry: 5`: the definition was accepted, its job stayed
  // processing with maxAttempts NaN, and the runner logged "TypeError … reading 'step'"
  it("a retry that is not a RetryPolicy, and every other field a plain JavaScript caller may get wrong", () => {
    const base = { type: "t", payload: Empty, run: async () => null }
    const retry = thrown(() => JobDefinition.make({ ...base, retry: 5 as never }))
    assert.strictEqual(retry._tag, "InvalidOptions")
    assert.deepStrictEqual(paths(retry), ["retry"])
    assert.match(retry.message, /^invalid job definition "t": retry: must be a RetryPolicy .*got 5/)
    assert.deepStrictEqual(paths(thrown(() => JobDefinition.make({ ...base, retry: { maxRetries: -1, schedule: 1 } as never }))), [
      "retry.maxRetries",
      "retry.schedule"
    ])
    const all = thrown(() =>
      JobDefinition.make({
        type: 7,
        queue: "",
        payload: { not: "a schema" },
        result: "x",
        retry: "3 times",
        timeout: "soon",
        group: { key: "owner", limit: 1.5 },
        priority: 1e6,
        run: "not a function"
      } as never)
    )
    assert.deepStrictEqual(paths(all), [
      "type",
      "queue",
      "payload",
      "result",
      "retry",
      "timeout",
      "group.key",
      "group.limit",
      "priority",
      "run"
    ])
    assert.match(all.message, /^invalid job definition: type: .*\(got 7\)/)
    assert.strictEqual(JobDefinition.make({ ...base, retry: RetryPolicy.fixed("1 second", 2) }).retry.maxRetries, 2)
    // a queue was any string before: names with a slash or a space stay valid
    assert.strictEqual(JobDefinition.make({ ...base, queue: "mail/outbound high" }).queue, "mail/outbound high")
  })
})

describe("Standard Schema payloads", () => {
  const check = async (s: string) => {
    await new Promise((r) => setTimeout(r, 1))
    return s !== "taken@example.com"
  }
  const zodDef = JobDefinition.make({
    type: "signup-zod",
    payload: z.object({
      email: z.email().refine(check, "already registered"),
      tags: z.array(z.string().min(2)),
      age: z.number().int()
    }),
    run: async (p) => p.email
  })
  const valibotDef = JobDefinition.make({
    type: "signup-valibot",
    payload: v.objectAsync({
      email: v.pipeAsync(v.string(), v.email(), v.checkAsync(check, "already registered")),
      tags: v.array(v.pipe(v.string(), v.minLength(2))),
      age: v.pipe(v.number(), v.integer())
    }),
    run: async (p) => p.email
  })

  for (const def of [zodDef, valibotDef] as ReadonlyArray<JobDefinition.Any>) {
    it.live(`${def.type}: every issue with its path, async refinements included; nothing stored`, () =>
      Effect.gen(function*() {
        const { tracker, store } = yield* setup([def])
        const bad = yield* Effect.flip(tracker.enqueueUnknown(def.type, { email: "taken@example.com", tags: ["ok", "x"], age: 1.5 }))
        assert.strictEqual(bad._tag, "InvalidInput")
        if (bad._tag !== "InvalidInput") return
        assert.deepStrictEqual(bad.issues.map((i) => i.path.join(".")).sort(), ["payload.age", "payload.email", "payload.tags.1"])
        assert.include(bad.issues.find((i) => i.path[1] === "email")!.message, "already registered")
        assert.strictEqual((yield* store.list({})).items.length, 0)
        const many = yield* Effect.flip(tracker.enqueueMany(def, [
          { payload: { email: "a@example.com", tags: [], age: 1 } },
          { payload: { email: "b@example.com", tags: [], age: "1" as never } }
        ]))
        assert.deepStrictEqual(many._tag === "InvalidInput" && many.issues.map((i) => i.path), [[1, "payload", "age"]])
        const ok = yield* tracker.enqueue(def, { email: "new@example.com", tags: ["ab"], age: 30 })
        const done = yield* waitFor(tracker, ok.job.id, (v) => v.status === "completed")
        assert.strictEqual(done.result, "new@example.com")
      }))
  }
})
