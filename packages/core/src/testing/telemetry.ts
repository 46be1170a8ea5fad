/**
 * Conformance, rules 23–24 (telemetry): the enqueuing span's trace context
 * is stored with the job and read back by every reader, so an attempt in
 * another process joins the trace; an attempt's log lines are kept with the
 * job, written only by the holder, oldest first, bounded, gone with the job.
 */
import { assert } from "@effect/vitest"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import * as JobId from "../JobId.js"
import type { LogLine } from "../JobLogStore.js"
import { maxLinesPerJob } from "../JobLogStore.js"
import { claimOne, lease, newJob, rule, tagOf } from "./harness.js"
import type { RuleModule } from "./harness.js"

const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

const line = (attempt: number, message: string, at = 1_000, fields: LogLine["fields"] = null): LogLine => ({
  attempt,
  at: new Date(at),
  level: "info",
  message,
  fields
})

export const telemetryRules: RuleModule = () =>
  rule("rules 23-24: trace context and attempt logs", (test) => {
    test("rule 23: the trace context given at enqueue is on the job as enqueued, read, listed and claimed", (store) =>
      Effect.gen(function*() {
        const { job } = yield* store.enqueue(newJob({ traceparent }))
        const [many] = yield* store.enqueueMany([newJob({ traceparent, type: "other" })])
        const plain = (yield* store.enqueue(newJob({ type: "other" }))).job
        assert.strictEqual(job.traceparent, traceparent)
        assert.strictEqual(many!.job.traceparent, traceparent)
        assert.strictEqual((yield* store.get(job.id)).traceparent, traceparent)
        assert.strictEqual((yield* store.view(job.id)).traceparent, traceparent)
        assert.strictEqual((yield* store.list({ type: "test" })).items[0]!.traceparent, traceparent)
        assert.strictEqual((yield* claimOne(store)).traceparent, traceparent)
        assert.isNotOk((yield* store.get(plain.id)).traceparent, "no trace context: absent or null")
      }))

    test("rule 24: the holder's log lines are kept in order with their attempt, level, time and fields", (store) =>
      Effect.gen(function*() {
        yield* TestClock.setTime(1_000)
        const { job } = yield* store.enqueue(newJob())
        assert.deepStrictEqual(yield* store.logs(job.id), [])
        const held = yield* claimOne(store)
        yield* store.appendLogs(lease(held), [line(1, "fetched", 1_000, { status: 200, url: "https://e.x/a" }), line(1, "parsed")])
        yield* store.appendLogs(lease(held), [{ ...line(1, "slow", 2_000), level: "warning" }])
        yield* store.appendLogs(lease(held), [])
        const lines = yield* store.logs(job.id)
        assert.deepStrictEqual(lines.map((l) => [l.attempt, l.level, l.message, l.at.getTime()]), [
          [1, "info", "fetched", 1_000],
          [1, "info", "parsed", 1_000],
          [1, "warning", "slow", 2_000]
        ])
        assert.deepStrictEqual(lines[0]!.fields, { status: 200, url: "https://e.x/a" })
        assert.isNull(lines[1]!.fields)
      }))

    test("rule 24: only the current holder writes log lines; a stale or finished attempt is refused", (store) =>
      Effect.gen(function*() {
        const { job } = yield* store.enqueue(newJob())
        const held = yield* claimOne(store)
        assert.strictEqual(yield* tagOf(store.appendLogs({ id: job.id, token: held.token + 1 }, [line(1, "x")])), "LeaseLost")
        yield* store.appendLogs(lease(held), [line(1, "kept")])
        yield* store.complete(lease(held), null)
        assert.strictEqual(yield* tagOf(store.appendLogs(lease(held), [line(1, "late")])), "LeaseLost")
        assert.deepStrictEqual((yield* store.logs(job.id)).map((l) => l.message), ["kept"])
        assert.strictEqual(yield* tagOf(store.logs(JobId.make())), "JobNotFound")
      }))

    test("rule 24: lines of every attempt are kept, the newest at most per job; deleting the job deletes them", (store) =>
      Effect.gen(function*() {
        const { job } = yield* store.enqueue(newJob())
        const first = yield* claimOne(store)
        yield* store.appendLogs(lease(first), Array.from({ length: maxLinesPerJob }, (_, i) => line(1, `a${i}`)))
        yield* store.fail({ ...lease(first), message: "boom", retryAt: new Date(0) })
        const second = yield* claimOne(store)
        yield* store.appendLogs(lease(second), [line(2, "b0"), line(2, "b1")])
        const lines = yield* store.logs(job.id)
        assert.strictEqual(lines.length, maxLinesPerJob)
        assert.deepStrictEqual(lines.slice(0, 1).map((l) => l.message), ["a2"])
        assert.deepStrictEqual(lines.slice(-3).map((l) => [l.attempt, l.message]), [[1, `a${maxLinesPerJob - 1}`], [2, "b0"], [2, "b1"]])
        yield* store.complete(lease(second), null)
        yield* store.delete(job.id)
        assert.strictEqual(yield* tagOf(store.logs(job.id)), "JobNotFound")
      }))
  })
