import { createHash } from "node:crypto"
import { assert, describe, it } from "vitest"
import { Data, Effect, Layer } from "effect"
import { JobDefinition, Jobtrack, JobStore, MemoryStore, RetryPolicy } from "@jobtrack/core"

// no random 503s, short stages (read when the module loads)
process.env.FAIL_RATE = "0"
process.env.EXTRACT_STEP_MS = "1"
const { excerptChars, ExtractPayload, extractText } = await import("../src/extraction.ts")

class Unavailable extends Data.TaggedError("Unavailable")<{ readonly message: string }> {}

/** About 25 KB of text: more than the result keeps. */
const content = Array.from({ length: 2_500 }, (_, i) => `line ${i} of the attachment`).join("\n")
const normalised = content.replace(/\s+/g, " ").trim()

/**
 * The extraction as this example defined it before 523a9f8 (its steps' outputs: the whole
 * file as a string, the whole text as a string, then { text, characters, pages }), stopped
 * by a 503 after its first `done` steps, retried 10 ms later: the job a deploy of the current
 * version finds half done.
 */
const previousVersion = (done: 1 | 2 | 3, downloaded: unknown = content) =>
  JobDefinition.make({
    type: "extract-text",
    payload: ExtractPayload,
    retry: RetryPolicy.exponential({ initial: 10, factor: 1, maxRetries: 3 }),
    handler: (_file, ctx) =>
      Effect.gen(function*() {
        const stored = (yield* ctx.step("download", Effect.succeed(downloaded))) as string
        if (done === 1) return yield* new Unavailable({ message: "extraction service unavailable (503)" })
        const text = yield* ctx.step("extract", Effect.succeed(stored.replace(/\s+/g, " ").trim()))
        if (done === 2) return yield* new Unavailable({ message: "extraction service unavailable (503)" })
        yield* ctx.step("store", Effect.succeed({ text, characters: text.length, pages: Math.max(1, Math.ceil(text.length / 1800)) }))
        return yield* new Unavailable({ message: "lease lost before the job settled" })
      })
  })

/** Run `old` until its attempt fails, then the current version until the job ends: its view. */
const upgrade = async (old: ReturnType<typeof previousVersion>) => {
  const store = Layer.succeed(JobStore, await Effect.runPromise(MemoryStore.make))
  const runner = { pollInterval: "20 millis" as const }
  const before = Jobtrack.make({ store, definitions: [old], runner })
  await before.start()
  const payload = { attachment_id: 1, record_id: "rec-1", file_url: "s3://bucket/a.txt", filename: "a.txt", path: null }
  const { job } = await before.enqueue(old, payload)
  const deadline = Date.now() + 10_000
  while ((await before.get(job.id)).status !== "retrying") {
    if (Date.now() > deadline) throw new Error("the previous version's attempt did not fail")
    await new Promise((r) => setTimeout(r, 10))
  }
  await before.close()
  const after = Jobtrack.make({ store, definitions: [extractText], runner })
  await after.start()
  try {
    const until = Date.now() + 10_000
    let view = await after.get(job.id)
    while (!["completed", "failed", "cancelled"].includes(view.status) && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 20))
      view = await after.get(job.id)
    }
    return view
  } finally {
    await after.close()
  }
}

describe("attachment-pipeline: a job half done by the previous version completes after an upgrade", () => {
  for (const done of [1, 2, 3] as const) {
    it(`its first ${done} step(s) stored in the old shapes: the retry completes with the bounded result`, async () => {
      const view = await upgrade(previousVersion(done))
      assert.strictEqual(view.status, "completed", view.errorMessage ?? "")
      assert.deepStrictEqual(view.result, {
        text: normalised.slice(0, excerptChars),
        truncated: true,
        bytes: Buffer.byteLength(content),
        sha256: createHash("sha256").update(content).digest("hex"),
        pages: Math.ceil(Buffer.byteLength(content) / 1800)
      })
    }, 30_000)
  }

  it("a stored output of no shape the example wrote fails the job at once, naming the step", async () => {
    const view = await upgrade(previousVersion(1, { bytes: "many" }))
    assert.strictEqual(view.status, "failed")
    assert.strictEqual(view.errorMessage, 'the stored output of step "download" is of no shape this example wrote')
    assert.strictEqual(view.attempts, 2)
  }, 30_000)
})
