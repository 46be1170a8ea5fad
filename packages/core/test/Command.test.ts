import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Schema, Scope } from "effect"
import type { Duration } from "effect"
import { Command, JobDefinition, RetryPolicy } from "@jobtrack/core"
import { alive, setup, waitFor } from "./helpers.js"

/** Resolves with how long the process took to disappear; fails after `withinMs`. */
const goneWithin = (pid: number, withinMs: number) =>
  Effect.gen(function*() {
    const start = Date.now()
    while (alive(pid)) {
      if (Date.now() - start > withinMs) return yield* Effect.fail(new Error(`process ${pid} still alive after ${withinMs} ms`))
      yield* Effect.sleep("10 millis")
    }
    return Date.now() - start
  })

const sleeper = (pids: Deferred.Deferred<number>, options: { timeout?: Duration.Input; script?: string } = {}) =>
  JobDefinition.make({
    type: "sleeper",
    payload: Schema.Struct({}),
    retry: RetryPolicy.none,
    ...(options.timeout ? { timeout: options.timeout } : {}),
    handler: () =>
      Command.run(options.script ? "sh" : "sleep", options.script ? ["-c", options.script] : ["60"], {
        killGraceMs: 300,
        onStart: (pid) => Deferred.succeed(pids, pid).pipe(Effect.asVoid)
      })
  })

describe("Command", () => {
  it.live("cancelling a job running `sleep 60`: the process is gone within 1 s, the job is cancelled", () =>
    Effect.gen(function*() {
      const pids = yield* Deferred.make<number>()
      const def = sleeper(pids)
      const { tracker } = yield* setup([def], { pollInterval: "50 millis" })
      const { job } = yield* tracker.enqueue(def, {})
      const pid = yield* Deferred.await(pids)
      assert.isTrue(alive(pid))
      yield* tracker.cancel(job.id)
      yield* goneWithin(pid, 1000)
      const final = yield* waitFor(tracker, job.id, (v) => v.status === "cancelled")
      assert.strictEqual(final.status, "cancelled")
    }))

  it.live("a process that ignores SIGTERM is killed with SIGKILL after the grace period", () =>
    Effect.gen(function*() {
      const pids = yield* Deferred.make<number>()
      const def = sleeper(pids, { script: "trap '' TERM; sleep 60 & wait; sleep 60" })
      const { tracker } = yield* setup([def], { pollInterval: "50 millis" })
      const { job } = yield* tracker.enqueue(def, {})
      const pid = yield* Deferred.await(pids)
      yield* Effect.sleep("100 millis") // let the shell install its trap
      yield* tracker.cancel(job.id)
      const took = yield* goneWithin(pid, 1000)
      assert.isAtLeast(took, 200) // it outlived SIGTERM
      assert.strictEqual((yield* waitFor(tracker, job.id, (v) => v.status === "cancelled")).status, "cancelled")
    }))

  it.live("a timeout kills the process and fails the attempt", () =>
    Effect.gen(function*() {
      const pids = yield* Deferred.make<number>()
      const def = sleeper(pids, { timeout: "300 millis" as Duration.Input })
      const { tracker } = yield* setup([def], { pollInterval: "50 millis" })
      const { job } = yield* tracker.enqueue(def, {})
      const pid = yield* Deferred.await(pids)
      yield* goneWithin(pid, 1300)
      const final = yield* waitFor(tracker, job.id, (v) => v.status === "failed")
      assert.strictEqual(final.errorMessage, "timed out after 300 ms")
    }))

  it.live("runner shutdown kills the process and hands the job back uncounted", () =>
    Effect.gen(function*() {
      const pids = yield* Deferred.make<number>()
      const def = sleeper(pids)
      const scope = yield* Scope.make()
      const { tracker } = yield* Scope.provide(setup([def], { pollInterval: "50 millis", shutdownGrace: "100 millis" }), scope)
      const { job } = yield* tracker.enqueue(def, {})
      const pid = yield* Deferred.await(pids)
      yield* Scope.close(scope, Exit.void)
      assert.isFalse(alive(pid))
      const back = yield* tracker.get(job.id)
      assert.strictEqual(back.status, "pending")
      assert.strictEqual(back.attempts, 0)
    }))

  it.live("output lines feed progress; a non-zero exit fails with the end of stderr", () =>
    Effect.gen(function*() {
      const seen: Array<string> = []
      const ok = yield* Command.run("sh", ["-c", "echo 'PROGRESS 50 half'; echo 'PROGRESS 100 done'; printf tail"], {
        onStdout: (line) => Effect.sync(() => seen.push(line))
      })
      assert.strictEqual(ok.exitCode, 0)
      assert.deepStrictEqual(seen, ["PROGRESS 50 half", "PROGRESS 100 done", "tail"])
      const err = yield* Effect.flip(Command.run("sh", ["-c", "echo 'bad credentials' >&2; exit 3"]))
      assert.strictEqual(err._tag, "CommandFailed")
      assert.strictEqual(err.exitCode, 3)
      assert.include(err.message, "bad credentials")
      const missing = yield* Effect.flip(Command.run("/nonexistent/binary", []))
      assert.strictEqual(missing.exitCode, null)
    }))
})
