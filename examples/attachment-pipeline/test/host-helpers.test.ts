/**
 * The attachment app tested the way a host tests its own code with
 * `@jobtrack/core/testing`'s TestJobs: the app runs in this process over an
 * in-memory PGlite, jobs are asserted enqueued and then drained; the real
 * 30 s / 2 min / 8 min retry policy runs on the kit's clock, in no real time.
 */
import type { AddressInfo } from "node:net"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { TestJobs } from "@jobtrack/core/testing"

// the app reads its knobs when loaded: no random failures, short steps, the seeds' real policy
process.env.FAIL_RATE = "0"
process.env.EXTRACT_STEP_MS = "1"
delete process.env.RETRY_SCALE
const { makeApp } = await import("../src/app.ts")
const { openDatabase } = await import("../src/db.ts")
const { extractText } = await import("../src/extraction.ts")

describe("attachment-pipeline with the host test helpers (TestJobs over PGlite)", () => {
  let kit: TestJobs.TestJobsClient
  let database: Awaited<ReturnType<typeof openDatabase>>
  let app: ReturnType<typeof makeApp>
  let server: ReturnType<ReturnType<typeof makeApp>["app"]["listen"]>
  let url: string

  beforeAll(async () => {
    database = await openDatabase({ dataDir: "memory://" })
    kit = await TestJobs.start({ definitions: [extractText], store: database.store })
    app = makeApp({ db: database.db, store: kit.store, uploads: mkdtempSync(join(tmpdir(), "attachments-")) })
    server = app.app.listen(0, "127.0.0.1")
    await new Promise((r) => server.once("listening", r))
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  }, 120_000) // an embedded PostgreSQL starting and migrating: seconds, more on a loaded machine
  afterAll(async () => {
    server?.close()
    await app?.jobs.close()
    await kit?.close()
    await database?.close()
  })

  const attach = async (record: string, body: unknown) => {
    const res = await fetch(`${url}/api/records/${record}/attachments`, {
      method: "POST",
      headers: { authorization: "Bearer ops", "content-type": "application/json" },
      body: JSON.stringify(body)
    })
    return { status: res.status, body: await res.json() }
  }

  it("saving an attachment enqueues its extraction (asserted by payload, key and owner); drain completes it", async () => {
    const res = await attach("rec-1", { file_url: "s3://bucket/invoice-1.pdf", filename: "invoice-1.pdf" })
    assert.strictEqual(res.status, 202)
    const job = await kit.assertEnqueued(extractText, { record_id: "rec-1", file_url: "s3://bucket/invoice-1.pdf" }, {
      owner: "ops",
      key: "s3://bucket/invoice-1.pdf",
      count: 1
    })
    assert.strictEqual(job.status, "pending") // manual mode: nothing ran yet
    const drained = await kit.drain()
    assert.deepStrictEqual(drained.completed.map((j) => j.id), [job.id])
    const done = await app.jobs.get(job.id)
    assert.match((done.result as { text: string }).text, /invoice-1\.pdf/)
  })

  it("assertEnqueued fails naming what was enqueued when nothing matches", async () => {
    const err = await kit.assertEnqueued(extractText, { file_url: "s3://bucket/never.pdf" }).then(() => null, (e: Error) => e)
    assert.instanceOf(err, Error)
    assert.match(err!.message, /expected at least 1 {.*never\.pdf.*} "extract-text" job\(s\) matching; \d+ of that type enqueued/)
    assert.include(err!.message, "invoice-1.pdf")
  })

  it("a file that keeps failing: drain runs the 30 s / 2 min / 8 min schedule on the kit's clock, then it is failed", async () => {
    const clockStart = kit.now().getTime()
    await attach("rec-2", { file_url: "s3://bucket/broken.pdf", filename: "broken.pdf" })
    const job = await kit.assertEnqueued(extractText, { file_url: "s3://bucket/broken.pdf" })
    const { failed } = await kit.drain()
    assert.deepStrictEqual(failed.map((j) => j.id), [job.id])
    const final = failed[0]!
    assert.strictEqual(final.attempts, 4)
    const at = final.errors.map((e) => e.at.getTime())
    const gaps = at.slice(1).map((t, i) => t - at[i]!)
    // each gap is the policy's delay plus the attempt's own (real) run time
    for (const [i, nominal] of [30_000, 120_000, 480_000].entries()) {
      assert.isAtLeast(gaps[i]!, nominal)
      assert.isBelow(gaps[i]!, nominal + 5_000)
    }
    // ten and a half minutes of schedule passed on the kit's clock (in real time the test's 30 s limit stops it)
    assert.isAtLeast(kit.now().getTime() - clockStart, 630_000)
  })

  it("a flaky file fails its first attempt and completes on the retry 30 s later", async () => {
    await attach("rec-3", { file_url: "s3://bucket/flaky-scan.pdf", filename: "flaky-scan.pdf" })
    const job = await kit.assertEnqueued(extractText, { filename: "flaky-scan.pdf" })
    const { completed, failed } = await kit.drain()
    assert.deepStrictEqual([completed.map((j) => j.id), failed.length], [[job.id], 0])
    const done = completed[0]!
    assert.strictEqual(done.attempts, 2)
    assert.isAtLeast(done.completedAt!.getTime() - done.errors[0]!.at.getTime(), 30_000)
  })
})
