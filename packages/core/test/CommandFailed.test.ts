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
// a script that crashes: Node prints the source line, a caret, the error, its stack and a version footer
const crash = join(dir, "crash.mjs")
writeFileSync(crash, "const open = (p) => { throw new Error(`cannot open /var/data/ann/inbox.json (for ${p.length} bytes)`) }\nopen(process.argv[2])\n")
// one that prints its arguments (as argument parsers do) and a long line
const echo = join(dir, "echo.mjs")
writeFileSync(echo, "console.error(`usage: ${process.argv[1]} <request>; got ${process.argv[2]}`); console.error('x'.repeat(2000)); process.exit(64)\n")

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

  it.live("a crashed Node script: its error line, not Node's footer; paths shortened, arguments redacted", () =>
    Effect.gen(function*() {
      const err = yield* Effect.flip(Command.run(process.execPath, [crash, payload]))
      assert.strictEqual(err.exitCode, 1)
      assert.include(err.stderr, "Node.js v") // the footer the message used to end with
      assert.strictEqual(err.message, `node exited with code 1: Error: cannot open …/inbox.json (for ${payload.length} bytes)`)
      assertClean(err.message)
      assert.notInclude(err.stderr, crash)
      assert.include(err.stderr, "<argument 1>")
    }))

  it.live("arguments a program prints are redacted; the message stays within 512 bytes", () =>
    Effect.gen(function*() {
      const err = yield* Effect.flip(Command.run(process.execPath, [echo, payload]))
      assert.strictEqual(err.exitCode, 64)
      assert.match(err.message, /^node exited with code 64: usage: <argument 1> <request>; got <argument 2> \| x+…$/)
      assert.isAtMost(Buffer.byteLength(err.message), 512 + "node exited with code 64: ".length)
      assertClean(err.message)
      assertClean(err.stderr)
    }))

  it.live("an argument longer than stderr's 4 KiB tail is redacted whole, not cut first and let through", () =>
    Effect.gen(function*() {
      // before: the tail was cut to 4 KiB before redaction, so the argument was never matched whole
      const long = JSON.stringify({ pad: "p".repeat(6000), password: "hunter2-secret", more: "q".repeat(3800) })
      const bare = join(dir, "bare.mjs")
      writeFileSync(bare, "console.error(`error: bad request ${process.argv[2]}`); process.exit(64)\n")
      const err = yield* Effect.flip(Command.run(process.execPath, [bare, long]))
      assert.notInclude(err.stderr, "hunter2-secret")
      assert.notInclude(err.message, "hunter2-secret")
      assert.isAtMost(err.stderr.length, 4096)
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
