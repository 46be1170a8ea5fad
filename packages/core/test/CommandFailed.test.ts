import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { Command, JobDefinition, RetryPolicy } from "@jobtrack/core"
import { setup, waitFor } from "./helpers.js"

// A failed job's error message reaches end users over HTTP: it must not carry the
// program's directory, the script's path, the arguments (payloads) or the environment.
const dir = mkdtempSync(join(tmpdir(), "command-failed-"))
const script = join(dir, "pipeline.mjs")
writeFileSync(script, "process.stderr.write('line one\\nline two\\nline three\\nmailbox refused the login\\n'); process.exit(2)\n")
const payload = JSON.stringify({ token: "s3cr3t-token", hours_back: 24 })

const failing = JobDefinition.make({
  type: "failing-command",
  payload: Schema.Struct({}),
  retry: RetryPolicy.none,
  handler: () => Command.run(process.execPath, [script, payload], { env: { ...process.env, API_KEY: "env-secret" } })
})

const assertClean = (message: string) => {
  for (const leak of [process.execPath, dir, script, "pipeline.mjs", "s3cr3t-token", "hours_back", "env-secret"]) {
    assert.notInclude(message, leak)
  }
}

describe("CommandFailed", () => {
  it.live("names the program's base name, the exit code and the last stderr lines — no paths, argv or env", () =>
    Effect.gen(function*() {
      const err = yield* Effect.flip(Command.run(process.execPath, [script, payload], { env: { ...process.env, API_KEY: "env-secret" } }))
      assert.strictEqual(err.command, "node")
      assert.strictEqual(err.exitCode, 2)
      assert.strictEqual(err.message, "node exited with code 2: line two | line three | mailbox refused the login")
      assertClean(err.message)
    }))

  it.live("a program that cannot start is named by its base name, with the reason", () =>
    Effect.gen(function*() {
      const err = yield* Effect.flip(Command.run(join(dir, "missing-binary"), [payload]))
      assert.strictEqual(err.message, "missing-binary could not start (ENOENT)")
      assertClean(err.message)
    }))

  it.live("a failed job's errorMessage carries the same clean text", () =>
    Effect.gen(function*() {
      const { tracker } = yield* setup([failing], { pollInterval: "50 millis" })
      const { job } = yield* tracker.enqueue(failing, {})
      const final = yield* waitFor(tracker, job.id, (v) => v.status === "failed")
      assert.match(final.errorMessage!, /^node exited with code 2: .*mailbox refused the login$/)
      assertClean(final.errorMessage!)
    }))
})
