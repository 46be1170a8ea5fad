import { assert, describe, it } from "@effect/vitest"
import { Clock, Deferred, Effect, Fiber, Logger, References, Schema, Scope, Stream } from "effect"
import { TestClock } from "effect/testing"
import { FatalError, JobDefinition, RetryPolicy } from "@jobtrack/core"
import type { JobRecord, JobStoreShape, JobView } from "@jobtrack/core"
import { setup, waitFor } from "./helpers.js"

const Empty = Schema.Struct({})

describe("Runner", () => {
  it.effect("seeds' policy: attempts at 0, 30 s, 2 min 30 s, 10 min 30 s, then failed with all four errors", () =>
    Effect.gen(function*() {
      const startedAt: Array<number> = []
      const flaky = JobDefinition.make({
        type: "flaky",
        payload: Empty,
        retry: RetryPolicy.exponential({ initial: "30 seconds", factor: 4, maxRetries: 3 }),
        handler: (_, ctx) =>
          Effect.gen(function*() {
            startedAt.push(yield* Clock.currentTimeMillis)
            return yield* Effect.fail(new Error(`mailbox unreachable (attempt ${ctx.attempt})`))
          })
      })
      const { tracker } = yield* setup([flaky])
      const { job } = yield* tracker.enqueue(flaky, {})
      yield* TestClock.adjust("20 minutes")
      assert.deepStrictEqual(startedAt, [0, 30_000, 150_000, 630_000])
      const final = yield* tracker.get(job.id)
      assert.strictEqual(final.status, "failed")
      assert.strictEqual(final.attempts, 4)
      assert.deepStrictEqual(final.errors.map((e) => [e.attempt, e.message, e.at.getTime()]), [
        [1, "mailbox unreachable (attempt 1)", 0],
        [2, "mailbox unreachable (attempt 2)", 30_000],
        [3, "mailbox unreachable (attempt 3)", 150_000],
        [4, "mailbox unreachable (attempt 4)", 630_000]
      ])
      assert.strictEqual(final.errorMessage, "mailbox unreachable (attempt 4)")
    }))

  it.effect("with jitter, each delay is within ±20% of the nominal one", () =>
    Effect.gen(function*() {
      const startedAt: Array<number> = []
      const flaky = JobDefinition.make({
        type: "flaky",
        payload: Empty,
        retry: RetryPolicy.exponential({ initial: "30 seconds", factor: 4, maxRetries: 3, jitter: true }),
        handler: () => Effect.flatMap(Clock.currentTimeMillis, (t) => (startedAt.push(t), Effect.fail("boom")))
      })
      const { tracker } = yield* setup([flaky], { pollInterval: "100 millis" })
      const { job } = yield* tracker.enqueue(flaky, {})
      yield* TestClock.adjust("20 minutes")
      assert.strictEqual(startedAt.length, 4)
      const gaps = startedAt.slice(1).map((t, i) => t - startedAt[i]!)
      for (const [i, nominal] of [30_000, 120_000, 480_000].entries()) {
        assert.isAtLeast(gaps[i]!, nominal * 0.8)
        assert.isAtMost(gaps[i]!, nominal * 1.2 + 100) // + one poll interval
      }
      assert.strictEqual((yield* tracker.get(job.id)).status, "failed")
    }))

  it.effect("a FatalError fails the job at once, whatever attempts are left", () =>
    Effect.gen(function*() {
      let runs = 0
      const def = JobDefinition.make({
        type: "fatal",
        payload: Empty,
        retry: RetryPolicy.fixed("1 second", 5),
        handler: () => Effect.suspend(() => (runs++, Effect.fail(new FatalError({ message: "mailbox not connected" }))))
      })
      const { tracker } = yield* setup([def])
      const { job } = yield* tracker.enqueue(def, {})
      yield* TestClock.adjust("1 minute")
      const final = yield* tracker.get(job.id)
      assert.strictEqual(runs, 1)
      assert.strictEqual(final.status, "failed")
      assert.strictEqual(final.errorMessage, "mailbox not connected")
    }))

  it.effect("a timeout interrupts the attempt and counts as a failure", () =>
    Effect.gen(function*() {
      let interrupted = 0
      const def = JobDefinition.make({
        type: "slow",
        payload: Empty,
        timeout: "10 seconds",
        retry: RetryPolicy.fixed("5 seconds", 1),
        handler: () => Effect.never.pipe(Effect.onInterrupt(() => Effect.sync(() => interrupted++)))
      })
      const { tracker } = yield* setup([def])
      const { job } = yield* tracker.enqueue(def, {})
      yield* TestClock.adjust("11 seconds")
      const retrying = yield* tracker.get(job.id)
      assert.strictEqual(retrying.status, "retrying")
      assert.strictEqual(retrying.errorMessage, "timed out after 10000 ms")
      yield* TestClock.adjust("20 seconds")
      assert.strictEqual((yield* tracker.get(job.id)).status, "failed")
      assert.strictEqual(interrupted, 2)
    }))

  it.effect("a runner that stops heartbeating loses the job to another; its late completion is refused", () =>
    Effect.gen(function*() {
      const release = yield* Deferred.make<void>()
      const ran: Array<string> = []
      const def = JobDefinition.make({
        type: "lease",
        payload: Empty,
        result: Schema.Struct({ by: Schema.String }),
        handler: (_, ctx) =>
          Effect.gen(function*() {
            const me = `attempt-${ctx.attempt}`
            ran.push(me)
            if (ctx.attempt === 1) yield* Deferred.await(release) // the frozen runner
            return { by: me }
          }).pipe(Effect.uninterruptible)
      })
      const { MemoryStore } = yield* Effect.promise(() => import("@jobtrack/core"))
      const store = yield* MemoryStore.make
      const refused: Array<string> = []
      // runner A's heartbeats never reach the store (a paused process, a partition)
      const frozen: JobStoreShape = {
        ...store,
        heartbeat: () => Effect.succeed({ cancelRequested: false }),
        completeMany: (items) =>
          store.completeMany(items).pipe(Effect.tap((out) => Effect.sync(() => out.refused.forEach(() => refused.push("LeaseLost")))))
      }
      const a = yield* setup([def], { store: frozen, lease: "30 seconds" })
      const { job } = yield* a.tracker.enqueue(def, {})
      yield* TestClock.adjust("1 second")
      assert.deepStrictEqual(ran, ["attempt-1"])
      const b = yield* setup([def], { store, lease: "30 seconds" })
      yield* TestClock.adjust("40 seconds")
      const done = yield* b.tracker.get(job.id)
      assert.strictEqual(done.status, "completed")
      assert.deepStrictEqual(done.result, { by: "attempt-2" })
      assert.match(done.errors[0]!.message, /worker lost/)
      // the first runner wakes up and tries to complete
      yield* Deferred.succeed(release, undefined)
      yield* TestClock.adjust("1 second")
      assert.deepStrictEqual(refused, ["LeaseLost"])
      const after = yield* b.tracker.get(job.id)
      assert.deepStrictEqual(after.result, { by: "attempt-2" })
      assert.strictEqual(after.attempts, 2)
    }))

  it.effect("group limit 2, 20 jobs of one owner, 4 runners: never more than 2 at once; positions shrink", () =>
    Effect.gen(function*() {
      let now = 0
      let peak = 0
      const def = JobDefinition.make({
        type: "extract",
        payload: Schema.Struct({ n: Schema.Number }),
        group: { key: (_, job) => job.owner, limit: 2 },
        handler: () =>
          Effect.acquireUseRelease(
            Effect.sync(() => (peak = Math.max(peak, ++now))),
            () => Effect.sleep("10 seconds"),
            () => Effect.sync(() => now--)
          )
      })
      const { runners, store, tracker } = yield* setup([def], { runners: 4, concurrency: 5 })
      const jobs: Array<JobRecord> = []
      for (let n = 0; n < 20; n++) jobs.push((yield* tracker.enqueue(def, { n }, { owner: "ann" })).job)
      const positions = (yield* Effect.forEach(jobs, (j) => tracker.get(j.id))).map((v) => v.queuePosition)
      assert.deepStrictEqual(positions, Array.from({ length: 20 }, (_, i) => i + 1))
      const last = jobs[19]!.id
      const seen: Array<number | null> = []
      for (let step = 0; step < 12; step++) {
        yield* TestClock.adjust("10 seconds")
        const processing = (yield* store.list({ status: ["processing"] })).items.length
        assert.isAtMost(processing, 2)
        assert.isAtMost(runners.flatMap((r) => r.running()).length, 2)
        seen.push((yield* tracker.get(last)).queuePosition)
      }
      assert.strictEqual(peak, 2)
      const reported = seen.filter((p): p is number => p !== null)
      assert.isAbove(reported.length, 3)
      for (let i = 1; i < reported.length; i++) assert.isBelow(reported[i]!, reported[i - 1]!)
      const stats = yield* tracker.stats()
      assert.strictEqual(stats.counts.completed, 20)
    }))

  it.live("10,000 progress reports in a tight loop: far fewer writes, and the final value", () =>
    Effect.gen(function*() {
      const { MemoryStore } = yield* Effect.promise(() => import("@jobtrack/core"))
      const inner = yield* MemoryStore.make
      let writes = 0
      const store: JobStoreShape = {
        ...inner,
        progress: (lease, p, m) => Effect.suspend(() => (writes++, inner.progress(lease, p, m)))
      }
      let beforeCompletion = -1
      const def = JobDefinition.make({
        type: "chatty",
        payload: Empty,
        handler: (_, ctx) =>
          Effect.gen(function*() {
            for (let i = 1; i <= 10_000; i++) {
              yield* ctx.progress(i / 100, `item ${i}`)
              yield* Effect.yieldNow // every other fiber may run between two reports
            }
            // the last value reaches the store before the job completes
            yield* Effect.sleep("100 millis")
            beforeCompletion = (yield* inner.get(ctx.id)).progress
          })
      })
      const { tracker } = yield* setup([def], { store, progressInterval: "20 millis", pollInterval: "50 millis" })
      const { job } = yield* tracker.enqueue(def, {})
      const final = yield* waitFor(tracker, job.id, (v) => v.status === "completed")
      assert.isAtLeast(writes, 2)
      assert.isAtMost(writes, 100, `${writes} progress writes for 10,000 reports`)
      assert.strictEqual(beforeCompletion, 100)
      assert.strictEqual(final.progressMessage, "item 10000")
    }))

  it.effect("cancel: a pending job at once, a running one by interruption; hooks fire once each", () =>
    Effect.gen(function*() {
      const fired: Array<string> = []
      const def = JobDefinition.make({ type: "long", payload: Empty, handler: () => Effect.never })
      const ok = JobDefinition.make({ type: "ok", payload: Empty, handler: () => Effect.succeed(1) })
      const bad = JobDefinition.make({ type: "bad", payload: Empty, retry: RetryPolicy.none, handler: () => Effect.fail("no") })
      const record = (v: JobView) => Effect.sync(() => fired.push(`${v.type}:${v.status}`))
      const { tracker } = yield* setup([def, ok, bad], {
        concurrency: 1,
        hooks: { onCompleted: record, onFailed: record, onCancelled: record }
      })
      const running = (yield* tracker.enqueue(def, {})).job
      const waiting = (yield* tracker.enqueue(def, {})).job
      yield* TestClock.adjust("1 second")
      assert.strictEqual((yield* tracker.get(running.id)).status, "processing")
      const c1 = yield* tracker.cancel(waiting.id)
      assert.strictEqual(c1.status, "cancelled")
      const c2 = yield* tracker.cancel(running.id)
      assert.isTrue(c2.cancelRequested)
      yield* TestClock.adjust("1 second")
      assert.strictEqual((yield* tracker.get(running.id)).status, "cancelled")
      yield* tracker.enqueue(ok, {})
      yield* tracker.enqueue(bad, {})
      yield* TestClock.adjust("3 seconds")
      assert.deepStrictEqual(fired, ["long:cancelled", "long:cancelled", "ok:completed", "bad:failed"])
      const err = yield* Effect.flip(tracker.cancel(running.id))
      assert.strictEqual(err._tag, "InvalidTransition")
    }))

  it.effect("shutdown lets jobs finish within the grace period, then hands the rest back uncounted", () =>
    Effect.gen(function*() {
      const def = JobDefinition.make({
        type: "timed",
        payload: Schema.Struct({ seconds: Schema.Number }),
        handler: ({ seconds }) => Effect.sleep(seconds * 1000)
      })
      const scope = yield* Scope.make()
      const { tracker } = yield* Scope.provide(setup([def], { shutdownGrace: "5 seconds" }), scope)
      const quick = (yield* tracker.enqueue(def, { seconds: 3 })).job
      const slow = (yield* tracker.enqueue(def, { seconds: 60 })).job
      yield* TestClock.adjust("1 second")
      const closing = yield* Effect.forkChild(Scope.close(scope, { _tag: "Success", value: undefined } as never))
      yield* TestClock.adjust("10 seconds")
      yield* Fiber.join(closing)
      assert.strictEqual((yield* tracker.get(quick.id)).status, "completed")
      const handedBack = yield* tracker.get(slow.id)
      assert.strictEqual(handedBack.status, "pending")
      assert.strictEqual(handedBack.attempts, 0)
      assert.deepStrictEqual(handedBack.errors, [])
    }))

  it.effect("watch streams every change until the terminal view: each step's progress, in order, then completed", () =>
    Effect.gen(function*() {
      const lines: Array<unknown> = []
      const def = JobDefinition.make({
        type: "steps",
        payload: Empty,
        result: Schema.Struct({ ok: Schema.Boolean }),
        handler: (_, ctx) =>
          Effect.gen(function*() {
            yield* ctx.log("starting", { step: 0 }).pipe(
              Effect.provide(Logger.layer([Logger.make((o) => void lines.push([o.message, o.fiber.getRef(References.CurrentLogAnnotations)]))]))
            )
            for (const [p, m] of [[25, "Fetching"], [50, "Extracting"], [75, "Resolving"]] as const) {
              yield* ctx.progress(p, m)
              yield* Effect.sleep("50 millis")
            }
            return { ok: true }
          })
      })
      const { tracker } = yield* setup([def], { progressInterval: "10 millis", pollInterval: "50 millis" })
      const { job } = yield* tracker.enqueue(def, {})
      const watching = yield* tracker.watch(job.id).pipe(Stream.runCollect, Effect.forkChild({ startImmediately: true }))
      yield* TestClock.adjust("1 second")
      const views = yield* Fiber.join(watching)
      const done = views.at(-1)!
      assert.strictEqual(done.status, "completed")
      assert.deepStrictEqual(done.result, { ok: true })
      assert.strictEqual(done.progress, 100)
      // every step's progress was seen, in order, while processing
      const steps = views.filter((v) => v.status === "processing" && v.progress > 0).map((v) => [v.progress, v.progressMessage])
      assert.deepStrictEqual(steps.filter((x, i) => i === 0 || x[0] !== steps[i - 1]![0]), [
        [25, "Fetching"],
        [50, "Extracting"],
        [75, "Resolving"]
      ])
      assert.strictEqual(views[0]!.status, "pending")
      assert.deepStrictEqual(lines, [[["starting"], { step: 0, jobId: job.id, type: "steps", attempt: 1 }]])
    }))
})
