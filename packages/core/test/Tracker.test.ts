import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { JobDefinition, Jobtrack, MemoryStore } from "@jobtrack/core"
import type { JobView } from "@jobtrack/core"
import { setup } from "./helpers.js"

const extract = JobDefinition.make({
  type: "newsletter-extract",
  payload: Schema.Struct({
    hours_back: Schema.Number.pipe(Schema.check(Schema.isBetween({ minimum: 1, maximum: 168 }))),
    max_results: Schema.Int,
    senders: Schema.optionalKey(Schema.Array(Schema.String))
  }),
  result: Schema.Struct({ count: Schema.Number }),
  group: { key: (_, job) => job.owner, limit: 2 },
  handler: (p) => Effect.succeed({ count: p.max_results })
})

describe("Tracker", () => {
  it.effect("a bad payload fails with every problem listed, and nothing is stored", () =>
    Effect.gen(function*() {
      const { store, tracker } = yield* setup([extract], { runners: 0 })
      const err = yield* Effect.flip(
        tracker.enqueueUnknown("newsletter-extract", { hours_back: 500, max_results: "x", senders: [1] }, {
          priority: 1.5,
          owner: ""
        })
      )
      assert.strictEqual(err._tag, "InvalidInput")
      if (err._tag !== "InvalidInput") return
      assert.deepStrictEqual(err.issues.map((i) => i.path.join(".")), [
        "payload.hours_back",
        "payload.max_results",
        "payload.senders.0",
        "options.owner",
        "options.priority"
      ])
      assert.include(err.message, "payload.hours_back: Expected a value between 1 and 168")
      assert.strictEqual((yield* store.list({})).items.length, 0)
      const unknown = yield* Effect.flip(tracker.enqueueUnknown("nope", {}))
      assert.strictEqual(unknown._tag, "UnknownJobType")
    }))

  it.effect("enqueueMany stores all items or, if any is invalid, none; issues carry the item index", () =>
    Effect.gen(function*() {
      const { store, tracker } = yield* setup([extract], { runners: 0 })
      const err = yield* Effect.flip(tracker.enqueueMany(extract, [
        { payload: { hours_back: 1, max_results: 1 } },
        { payload: { hours_back: 0, max_results: 1 } }
      ]))
      assert.strictEqual(err._tag, "InvalidInput")
      if (err._tag === "InvalidInput") assert.deepStrictEqual(err.issues[0]!.path, [1, "payload", "hours_back"])
      assert.strictEqual((yield* store.list({})).items.length, 0)
      const ok = yield* tracker.enqueueMany(
        extract,
        Array.from({ length: 5 }, (_, i) => ({ payload: { hours_back: 1, max_results: i }, options: { owner: "ann" } }))
      )
      const views = yield* Effect.forEach(ok, (o) => tracker.get(o.job.id))
      assert.deepStrictEqual(views.map((v) => v.queuePosition), [1, 2, 3, 4, 5])
      assert.isTrue(ok.every((o) => o.job.groupKey === "ann" && o.job.groupLimit === 2 && o.job.maxAttempts === 4))
    }))

  it.effect("keys dedupe, findByKey and list return views with queue positions", () =>
    Effect.gen(function*() {
      const { tracker } = yield* setup([extract], { runners: 0 })
      const a = yield* tracker.enqueue(extract, { hours_back: 1, max_results: 1 }, { key: "s3://a.pdf" })
      const b = yield* tracker.enqueue(extract, { hours_back: 2, max_results: 2 }, { key: "s3://a.pdf" })
      assert.isTrue(a.created)
      assert.isFalse(b.created)
      assert.strictEqual(b.job.id, a.job.id)
      assert.strictEqual((yield* tracker.findByKey("newsletter-extract", "s3://a.pdf")).id, a.job.id)
      yield* tracker.enqueue(extract, { hours_back: 1, max_results: 1 }, { priority: 10 })
      const page = yield* tracker.list({})
      assert.deepStrictEqual(page.items.map((v) => v.queuePosition), [1, 2])
    }))

  it.effect("runAt and delay postpone a job", () =>
    Effect.gen(function*() {
      const { tracker } = yield* setup([extract], { runners: 0 })
      const { job } = yield* tracker.enqueue(extract, { hours_back: 1, max_results: 1 }, { delay: "1 minute" })
      assert.strictEqual(job.runAt.getTime(), 60_000)
      const at = yield* tracker.enqueue(extract, { hours_back: 1, max_results: 1 }, { runAt: new Date(5_000) })
      assert.strictEqual(at.job.runAt.getTime(), 5_000)
    }))
})

describe("Jobtrack (Promise facade)", () => {
  it("enqueue, watch with for-await, cancel and retry through Promises", async () => {
    const jobs = Jobtrack.make({
      store: MemoryStore.layer,
      definitions: [extract],
      runner: { pollInterval: "20 millis" },
      watchPollInterval: "50 millis"
    })
    try {
      const invalid = await jobs.enqueue(extract, { hours_back: -1, max_results: 1 }).catch((e: unknown) => e)
      assert.strictEqual((invalid as { _tag: string })._tag, "InvalidInput")
      const { job } = await jobs.enqueue(extract, { hours_back: 3, max_results: 7 }, { owner: "ann" })
      assert.strictEqual(job.status, "pending")
      await jobs.start()
      const views: Array<JobView> = []
      for await (const view of jobs.watch(job.id)) views.push(view)
      assert.strictEqual(views.at(-1)!.status, "completed")
      assert.deepStrictEqual(views.at(-1)!.result, { count: 7 })
      const notFound = await jobs.get("0190aaaa-0000-7000-8000-000000000000").catch((e: unknown) => e)
      assert.strictEqual((notFound as { _tag: string })._tag, "JobNotFound")
      const conflict = await jobs.retry(job.id).catch((e: unknown) => e)
      assert.strictEqual((conflict as { _tag: string; status: string }).status, "completed")
      const stats = await jobs.stats({ owner: "ann" })
      assert.strictEqual(stats.counts.completed, 1)
      await jobs.stop()
      const later = await jobs.enqueue(extract, { hours_back: 3, max_results: 7 })
      const cancelled = await jobs.cancel(later.job.id)
      assert.strictEqual(cancelled.status, "cancelled")
      assert.strictEqual((await jobs.retry(later.job.id)).status, "pending")
      await jobs.delete(later.job.id)
      assert.strictEqual((await jobs.list()).items.length, 1)
    } finally {
      await jobs.close()
    }
  })
})
