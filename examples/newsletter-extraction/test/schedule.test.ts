/**
 * The example's hourly re-fetch: a cron schedule configured when
 * NEWSLETTER_REFETCH_OWNER is set, its jobs owned by that user.
 */
import { afterAll, assert, describe, it } from "vitest"
import { MemoryStore } from "@jobtrack/core"
import { makeApp } from "../src/app.ts"

describe("newsletter example: hourly re-fetch schedule", () => {
  const { close, jobs } = makeApp({ store: MemoryStore.layer, refetchOwner: "ann" })
  afterAll(() => close())

  it("is listed with its next run, and a trigger enqueues an extraction for its owner", async () => {
    const [refetch] = await jobs.schedules.list()
    assert.strictEqual(refetch?.name, "newsletter-refetch-hourly")
    assert.strictEqual(refetch?.owner, "ann")
    assert.strictEqual(refetch?.nextRunAt?.getUTCMinutes(), 5)
    const job = await jobs.schedules.trigger("newsletter-refetch-hourly")
    const view = await jobs.get(job.id)
    assert.strictEqual(view.owner, "ann")
    assert.deepStrictEqual(view.payload, { hours_back: 1, max_results: 100 })
  })

  it("is off without an owner", async () => {
    const other = makeApp({ store: MemoryStore.layer })
    try {
      assert.deepStrictEqual(await other.jobs.schedules.list(), [])
    } finally {
      await other.close()
    }
  })
})
