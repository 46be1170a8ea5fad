import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { z } from "zod"
import { FatalError, JobDefinition, RetryPolicy } from "@jobtrack/core"
import { TestJobs } from "@jobtrack/core/testing"

const sendWelcome = JobDefinition.make({
  type: "send-welcome",
  payload: z.object({ to: z.email(), plan: z.enum(["free", "pro"]) }),
  retry: RetryPolicy.exponential({ initial: "30 seconds", factor: 4, maxRetries: 3 }),
  run: async ({ to }, ctx) => {
    if (to.startsWith("bounce")) throw new Error(`mailbox ${to} unavailable (attempt ${ctx.attempt})`)
    if (to.startsWith("invalid")) throw new FatalError({ message: "no such mailbox" })
    await ctx.progress(100, "sent")
    return { sent: to }
  }
})

describe("TestJobs (Promise form)", () => {
  it("manual mode: nothing runs until drain; drain runs retries on the kit's clock", async () => {
    await using jobs = await TestJobs.start({ definitions: [sendWelcome] })
    const t0 = jobs.now().getTime()
    await jobs.jobtrack.enqueue(sendWelcome, { to: "ann@example.com", plan: "pro" }, { owner: "ann" })
    await jobs.jobtrack.enqueue(sendWelcome, { to: "bounce@example.com", plan: "free" })
    await jobs.jobtrack.enqueue(sendWelcome, { to: "invalid@example.com", plan: "free" })
    const ann = await jobs.assertEnqueued(sendWelcome, { to: "ann@example.com" }, { owner: "ann", count: 1 })
    assert.strictEqual(ann.status, "pending")
    await jobs.assertEnqueued("send-welcome", (p) => (p as { plan: string }).plan === "free", { count: 2 })
    const drained = await jobs.drain()
    assert.deepStrictEqual(drained.completed.map((j) => j.id), [ann.id])
    const byTo = new Map(drained.failed.map((j) => [(j.payload as { to: string }).to, j]))
    assert.deepStrictEqual(byTo.get("invalid@example.com")?.attempts, 1)
    const bounced = byTo.get("bounce@example.com")!
    assert.deepStrictEqual(bounced.errors.map((e) => e.message), [1, 2, 3, 4].map((n) => `mailbox bounce@example.com unavailable (attempt ${n})`))
    assert.isAtLeast(jobs.now().getTime() - t0, 630_000)
    const missing = await jobs.assertEnqueued(sendWelcome, { to: "bob@example.com" }).then(() => null, (e: Error) => e)
    assert.match(missing?.message ?? "", /expected at least 1 \{"to":"bob@example.com"\} "send-welcome" job\(s\) matching; 3 of that type enqueued:\n.*ann@example.com/)
  })

  it("inline mode: enqueue returns the job already run", async () => {
    await using jobs = await TestJobs.start({ definitions: [sendWelcome], mode: "inline" })
    const { job } = await jobs.jobtrack.enqueue(sendWelcome, { to: "ann@example.com", plan: "pro" })
    assert.deepStrictEqual([job.status, job.result], ["completed", { sent: "ann@example.com" }])
  })
})

describe("TestJobs (Effect form)", () => {
  const double = JobDefinition.make({
    type: "double",
    payload: Schema.Struct({ n: Schema.Number }),
    handler: ({ n }) => Effect.succeed(n * 2)
  })
  it.live("make in a scope; the tracker and drain as Effects", () =>
    Effect.gen(function*() {
      const jobs = yield* TestJobs.make({ definitions: [double] })
      const { job } = yield* jobs.tracker.enqueue(double, { n: 21 })
      yield* jobs.assertEnqueued(double, { n: 21 })
      const { completed } = yield* jobs.drain()
      assert.deepStrictEqual(completed.map((j) => [j.id, j.result]), [[job.id, 42]])
    }).pipe(Effect.scoped))
})
