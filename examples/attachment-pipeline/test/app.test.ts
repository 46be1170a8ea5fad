import { fileURLToPath } from "node:url"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { call, startApp, tempDir, until } from "../../testing/harness.js"
import type { RunningApp } from "../../testing/harness.js"
import { postgresUrl } from "../../../scripts/test-env.js"

const main = fileURLToPath(new URL("../src/main.ts", import.meta.url))
// 30 s / 2 min / 8 min scaled to 0.3 s / 1.2 s / 4.8 s; no random failures (the file names decide)
const env = (dir: string, extra: Record<string, string> = {}) => ({
  DATA_DIR: `${dir}/data`,
  UPLOADS_DIR: `${dir}/uploads`,
  RETRY_SCALE: "0.01",
  FAIL_RATE: "0",
  EXTRACT_STEP_MS: "20",
  RUNNER_CONCURRENCY: "20",
  LEASE_SECONDS: "3",
  ...extra
})

describe("attachment-pipeline app (its own process, on PGlite)", () => {
  const dir = tempDir("attachments")
  let app: RunningApp
  beforeAll(async () => {
    app = await startApp(main, env(dir, { SEED_LEGACY_ATTACHMENTS: "7" }))
  }, 240_000) // an embedded PostgreSQL starting and migrating: seconds, more on a loaded machine
  afterAll(async () => {
    await app.stop()
  })
  const job = (id: string) => call(`${app.url}/api/jobs/${id}`, { user: "ops" }).then((r) => r.body)
  const attach = (record: string, body: unknown) =>
    call(`${app.url}/api/records/${record}/attachments`, { method: "POST", user: "ops", body })

  it("saving an attachment enqueues its extraction, found by file URL, which completes with the text", async () => {
    const res = await attach("rec-1", { file_url: "s3://bucket/invoice-1.pdf", filename: "invoice-1.pdf" })
    assert.strictEqual(res.status, 202)
    assert.strictEqual(res.body.key, "s3://bucket/invoice-1.pdf")
    assert.include(["pending", "processing"], res.body.status)
    const found = await call(`${app.url}/api/jobs?key=${encodeURIComponent("s3://bucket/invoice-1.pdf")}`, { user: "ops" })
    assert.deepStrictEqual(found.body.items.map((j: { id: string }) => j.id), [res.body.id])
    const done = await until(() => job(res.body.id), (j) => j.status === "completed", 10_000, "completed")
    assert.match(done.result.text, /invoice-1\.pdf/)
    const record = await call(`${app.url}/api/records/rec-1`, { user: "ops" })
    assert.strictEqual(record.body.attachments.length, 1)
    assert.strictEqual(record.body.attachments[0].extraction.status, "completed")
    // the same file again while its job is live: no second job. A "broken" file's job stays
    // live through its retries (seconds), not for a few steps of 20 ms, so the second save
    // cannot race its completion; it is cancelled afterwards
    const again = await attach("rec-1", { file_url: "s3://bucket/broken-big.pdf", filename: "broken-big.pdf" })
    const same = await attach("rec-2", { file_url: "s3://bucket/broken-big.pdf", filename: "broken-big.pdf" })
    assert.strictEqual(same.body.id, again.body.id)
    assert.include(["pending", "processing", "retrying"], same.body.status)
    assert.strictEqual((await call(`${app.url}/api/jobs/${again.body.id}/cancel`, { method: "POST", user: "ops" })).status, 202)
    await until(() => job(again.body.id), (j) => j.status === "cancelled", 10_000, "cancelled")
  })

  it("an invalid attachment is refused with every problem, and neither the attachment nor a job is stored", async () => {
    const before = await call(`${app.url}/api/jobs/stats`, { user: "ops" })
    const res = await attach("rec-bad", { file_url: "", filename: 42 })
    assert.strictEqual(res.status, 400)
    assert.strictEqual(res.body.error.details.issues.length, 2)
    assert.strictEqual((await call(`${app.url}/api/records/rec-bad`, { user: "ops" })).status, 404)
    const after = await call(`${app.url}/api/jobs/stats`, { user: "ops" })
    // jobs move between statuses meanwhile; their total changes only when one is enqueued
    const total = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0)
    assert.strictEqual(total(after.body.counts), total(before.body.counts))
  })

  it("a transient failure is retried on schedule and completes; a file that keeps failing ends failed, then is retried by hand", async () => {
    const flaky = (await attach("rec-3", { file_url: "s3://bucket/flaky-scan.pdf", filename: "flaky-scan.pdf" })).body
    const retrying = await until(() => job(flaky.id), (j) => j.status === "retrying", 10_000, "retrying")
    assert.isString(retrying.next_retry_at)
    assert.match(retrying.error_message, /extraction service unavailable/)
    const done = await until(() => job(flaky.id), (j) => j.status === "completed", 10_000, "completed")
    assert.strictEqual(done.attempts, 2)
    // download, extract and store are durable steps: the retry did not download again
    assert.deepStrictEqual(done.steps.map((st: { name: string; status: string; attempts: number }) => [st.name, st.status, st.attempts]), [
      ["download", "completed", 1],
      ["extract", "completed", 2],
      ["store", "completed", 1]
    ])
    // the record shows its attachment's extraction with the steps too
    const record = await call(`${app.url}/api/records/rec-3`, { user: "ops" })
    assert.deepStrictEqual(record.body.attachments[0].extraction.steps.map((st: { name: string }) => st.name), ["download", "extract", "store"])

    const broken = (await attach("rec-3", { file_url: "s3://bucket/broken.pdf", filename: "broken.pdf" })).body
    const failed = await until(() => job(broken.id), (j) => j.status === "failed", 20_000, "failed after 3 retries")
    assert.strictEqual(failed.attempts, 4)
    assert.strictEqual(failed.max_attempts, 4)
    const retried = await call(`${app.url}/api/jobs/${broken.id}/retry`, { method: "POST", user: "ops" })
    assert.strictEqual(retried.status, 202)
    assert.strictEqual(retried.body.id, broken.id)
    await until(() => job(broken.id), (j) => j.status === "failed", 20_000, "failed again")
    assert.strictEqual((await call(`${app.url}/api/jobs/${broken.id}`, { method: "DELETE", user: "ops" })).status, 204)
  })

  it("a multipart upload is stored under the example and its text extracted", async () => {
    const form = new FormData()
    form.set("file", new File(["Quarterly report.\n\nRevenue grew by 12%."], "report.txt", { type: "text/plain" }))
    const res = await fetch(`${app.url}/api/records/rec-4/attachments`, { method: "POST", headers: { authorization: "Bearer ops" }, body: form })
    assert.strictEqual(res.status, 202)
    const view = (await res.json()) as { id: string; key: string }
    assert.match(view.key, /^upload:\/\/[0-9a-f-]{36}\/report\.txt$/)
    const done = await until(() => job(view.id), (j) => j.status === "completed", 10_000, "completed")
    assert.strictEqual(done.result.text, "Quarterly report. Revenue grew by 12%.")
  })

  it("backfill enqueues jobs for attachments that have none, once", async () => {
    const first = await call(`${app.url}/api/admin/backfill`, { method: "POST", user: "ops" })
    // the 7 attachments saved before jobtrack, and broken.pdf, whose job was deleted above
    assert.strictEqual(first.body.enqueued, 8)
    const second = await call(`${app.url}/api/admin/backfill`, { method: "POST", user: "ops" })
    assert.strictEqual(second.body.enqueued, 0)
    const legacy = await call(`${app.url}/api/records/legacy`, { user: "ops" })
    assert.isTrue(legacy.body.attachments.every((a: { extraction: unknown }) => a.extraction !== null))
  })

  it("import bulk-enqueues thousands of files in batches, and they are processed", async () => {
    const res = await call(`${app.url}/api/admin/import`, { method: "POST", user: "ops", body: { count: 2000, batch_size: 500 } })
    assert.strictEqual(res.status, 202)
    assert.strictEqual(res.body.enqueued, 2000)
    assert.strictEqual(res.body.batches, 4)
    const listed = await call(`${app.url}/api/jobs?key=${encodeURIComponent(`s3://imports/${res.body.record_id}/file-1999.pdf`)}`, { user: "ops" })
    assert.strictEqual(listed.body.items.length, 1)
    const bad = await call(`${app.url}/api/admin/import`, { method: "POST", user: "ops", body: { count: 0 } })
    assert.strictEqual(bad.status, 400)
    await until(
      () => call(`${app.url}/api/jobs/stats`, { user: "ops" }).then((r) => r.body.counts),
      (c) => c.pending + c.processing + c.retrying === 0,
      180_000, // 2,000 jobs: seconds alone, minutes on a loaded machine
      "import processed"
    )
  }, 240_000)
})

describe("attachment-pipeline app killed in the middle of a job", () => {
  it("after a SIGKILL, the job's lease expires after the restart and it completes", async () => {
    const dir = tempDir("attachments-crash")
    let app = await startApp(main, env(dir, { EXTRACT_STEP_MS: "1500" }))
    try {
      const view = (await call(`${app.url}/api/records/r/attachments`, {
        method: "POST",
        user: "ops",
        body: { file_url: "s3://bucket/slow.pdf", filename: "slow.pdf" }
      })).body
      await until(() => call(`${app.url}/api/jobs/${view.id}`, { user: "ops" }).then((r) => r.body), (j) => j.progress >= 30, 10_000, "under way")
      await app.stop("SIGKILL")
      app = await startApp(main, env(dir, { EXTRACT_STEP_MS: "100" }))
      const done = await until(
        () => call(`${app.url}/api/jobs/${view.id}`, { user: "ops" }).then((r) => r.body),
        (j) => j.status === "completed",
        30_000,
        "completed after the crash"
      )
      assert.strictEqual(done.attempts, 2)
    } finally {
      await app.stop()
    }
  }, 240_000)
})

describe.skipIf(!postgresUrl())("attachment-pipeline app on PostgreSQL (DATABASE_URL)", { tags: ["postgres"] }, () => {
  it("saves an attachment and extracts it on the server, in a database of its own", async () => {
    const { default: pg } = await import("pg")
    const admin = new pg.Client({ connectionString: postgresUrl() })
    await admin.connect()
    const database = `jt_attachments_${Math.random().toString(36).slice(2, 8)}`
    await admin.query(`create database ${database}`)
    const url = new URL(postgresUrl()!)
    url.pathname = `/${database}`
    const app = await startApp(main, { ...env(tempDir("attachments-pg")), DATABASE_URL: url.toString() })
    try {
      assert.strictEqual(app.logs.find((l) => l.event === "app.listening")!.store, "postgresql")
      const view = (await call(`${app.url}/api/records/r1/attachments`, {
        method: "POST",
        user: "ops",
        body: { file_url: "s3://bucket/on-postgres.pdf", filename: "on-postgres.pdf" }
      })).body
      const done = await until(
        () => call(`${app.url}/api/jobs/${view.id}`, { user: "ops" }).then((r) => r.body),
        (j) => j.status === "completed",
        10_000,
        "completed on PostgreSQL"
      )
      assert.match(done.result.text, /on-postgres\.pdf/)
    } finally {
      await app.stop()
      await admin.query(`drop database if exists ${database} with (force)`)
      await admin.end()
    }
  }, 240_000)
})
