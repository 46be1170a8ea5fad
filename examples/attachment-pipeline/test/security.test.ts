import { request } from "node:http"
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { createHash } from "node:crypto"
import { fileURLToPath } from "node:url"
import { gzipSync } from "node:zlib"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { alive, call, rawRequest, startApp, tempDir, until } from "../../testing/harness.js"
import type { RunningApp } from "../../testing/harness.js"

const main = fileURLToPath(new URL("../src/main.ts", import.meta.url))
const MiB = 1024 * 1024

/** A request written chunk by chunk, each given a moment so the server sees the chunks apart. */
const raw = (url: string, options: Omit<Parameters<typeof rawRequest>[1], "pauseMs">) => rawRequest(url, { ...options, pauseMs: 5 })

const multipart = (boundary: string, filename: string, content: string) =>
  `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\nContent-Type: text/plain\r\n\r\n${content}\r\n--${boundary}--\r\n`

describe("attachment-pipeline: owners, uploads and bodies (two users, its own process)", () => {
  const dir = tempDir("attachments-security")
  let app: RunningApp
  beforeAll(async () => {
    app = await startApp(main, {
      DATA_DIR: `${dir}/data`,
      UPLOADS_DIR: `${dir}/uploads`,
      RETRY_SCALE: "0.01",
      FAIL_RATE: "0",
      EXTRACT_STEP_MS: "20",
      LEASE_SECONDS: "3",
      UPLOAD_MAX_BYTES: String(MiB)
    })
  }, 120_000)
  afterAll(async () => {
    await app?.stop()
  })
  const as = (user: string, path: string, init: { method?: string; body?: unknown } = {}) => call(`${app.url}${path}`, { ...init, user })
  const attach = (user: string, record: string, body: unknown) => as(user, `/api/records/${record}/attachments`, { method: "POST", body })
  const upload = async (user: string, record: string, name: string, content: string) => {
    const form = new FormData()
    form.set("file", new File([content], name, { type: "text/plain" }))
    const res = await fetch(`${app.url}/api/records/${record}/attachments`, { method: "POST", headers: { authorization: `Bearer ${user}` }, body: form })
    return { status: res.status, body: (await res.json()) as { id: string; key: string } }
  }

  it("two users: bob reads, attaches to, monitors and administers nothing of ann's", async () => {
    const annJob = (await attach("ann", "rec-1", { file_url: "s3://bucket/ann-contract.pdf", filename: "ann-contract.pdf" })).body
    const annUpload = await upload("ann", "rec-1", "ann-notes.txt", "Ann's private notes.")
    assert.strictEqual(annUpload.status, 202)
    const done = await until(() => as("ann", `/api/jobs/${annUpload.body.id}`).then((r) => r.body), (j) => j.status === "completed", 10_000, "ann's upload extracted")
    assert.strictEqual(done.result.text, "Ann's private notes.")
    const annRecord = await as("ann", "/api/records/rec-1")
    assert.strictEqual(annRecord.status, 200)
    assert.strictEqual(annRecord.body.attachments.length, 2)

    // ann's record does not exist for bob: the same answer as a record that does not exist at all
    const missing = await as("bob", "/api/records/no-such-record")
    const peek = await as("bob", "/api/records/rec-1")
    assert.strictEqual(peek.status, 404)
    assert.deepStrictEqual(peek.body, missing.body)

    // bob's own rec-1 is his own record
    const bobJob = (await attach("bob", "rec-1", { file_url: "s3://bucket/ann-contract.pdf", filename: "bob-copy.pdf" })).body
    assert.notStrictEqual(bobJob.id, annJob.id) // attaching ann's file URL never hands out ann's job
    assert.strictEqual(bobJob.key, "s3://bucket/ann-contract.pdf")
    const bobRecord = await as("bob", "/api/records/rec-1")
    assert.deepStrictEqual(bobRecord.body.attachments.map((a: { filename: string }) => a.filename), ["bob-copy.pdf"])
    assert.strictEqual((await as("ann", "/api/records/rec-1")).body.attachments.length, 2)

    // the monitoring routes: ann's jobs are unknown to bob
    // the monitoring routes: ann's jobs answer bob exactly as jobs that do not exist
    const unknown = "00000000-0000-4000-8000-000000000000"
    for (const id of [annJob.id, annUpload.body.id]) {
      for (const [method, path] of [["GET", ""], ["POST", "/cancel"], ["POST", "/retry"], ["DELETE", ""]] as const) {
        const theirs = await as("bob", `/api/jobs/${id}${path}`, { method })
        const none = await as("bob", `/api/jobs/${unknown}${path}`, { method })
        assert.strictEqual(theirs.status, 404, `${method} ${path}`)
        assert.deepStrictEqual(theirs.body, none.body)
      }
      assert.strictEqual((await fetch(`${app.url}/api/jobs/${id}/events`, { headers: { authorization: "Bearer bob" } })).status, 404)
    }
    // the same key: bob finds his own job only
    assert.deepStrictEqual((await as("bob", `/api/jobs?key=${encodeURIComponent(annJob.key)}`)).body.items.map((j: { id: string }) => j.id), [bobJob.id])
    assert.deepStrictEqual((await as("bob", "/api/jobs")).body.items.map((j: { id: string }) => j.id), [bobJob.id])
    const stats = (await as("bob", "/api/jobs/stats")).body
    assert.strictEqual(Object.values(stats.counts as Record<string, number>).reduce((a, b) => a + b, 0), 1)

    // admin routes need an admin
    for (const who of ["ann", "bob"]) {
      assert.strictEqual((await as(who, "/api/admin/backfill", { method: "POST" })).status, 403)
      assert.strictEqual((await as(who, "/api/admin/import", { method: "POST", body: { count: 1 } })).status, 403)
    }

    // backfill enqueues a job for the attachment's owner, never for the admin who asks
    await until(() => as("ann", `/api/jobs/${annJob.id}`).then((r) => r.body.status), (s) => s === "completed", 10_000, "ann's job done")
    assert.strictEqual((await as("ann", `/api/jobs/${annJob.id}`, { method: "DELETE" })).status, 204)
    const backfill = await as("ops", "/api/admin/backfill", { method: "POST" })
    assert.strictEqual(backfill.status, 200)
    assert.strictEqual(backfill.body.enqueued, 1)
    const again = (await as("ann", "/api/records/rec-1")).body.attachments.find((a: { filename: string }) => a.filename === "ann-contract.pdf")
    assert.isNotNull(again.extraction)
    assert.strictEqual(again.extraction.key, "s3://bucket/ann-contract.pdf")
    assert.strictEqual((await as("ops", `/api/jobs/${again.extraction.id}`)).status, 404)
    assert.deepStrictEqual((await as("ops", "/api/records/rec-1")).status, 404)

    // no server path anywhere in what ann is told
    const everything = JSON.stringify([annUpload.body, (await as("ann", "/api/records/rec-1")).body, (await as("ann", "/api/jobs")).body])
    assert.notInclude(everything, dir)
    assert.notInclude(everything, "file://")
    assert.notProperty(annRecord.body.attachments[1], "path")
  })

  const url = () => `${app.url}/api/records/rec-in/attachments`
  const auth = { authorization: "Bearer ann" }
  const auth_ = (user: string) => ({ authorization: `Bearer ${user}` })
  const uploadsOnDisk = () => readdirSync(`${dir}/uploads`)

  it("an upload over the limit streams to disk and is answered 413 (50 MB sent, no reset, nothing kept, memory flat)", async () => {
    const boundary = "b0undary"
    const head = `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="huge.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`
    const tail = `\r\n--${boundary}--\r\n`
    const block = Buffer.alloc(MiB, 120)
    const chunks = [Buffer.from(head), ...Array.from({ length: 50 }, () => block), Buffer.from(tail)]
    const before = uploadsOnDisk().length
    const status = () => readFileSync(`/proc/${app.process.pid}/status`, "utf8")
    const kib = (field: string, text: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(text)![1])
    writeFileSync(`/proc/${app.process.pid}/clear_refs`, "5") // reset the peak (VmHWM) to the current RSS
    const rssBefore = kib("VmRSS", status())
    const res = await raw(url(), {
      headers: { ...auth, "content-type": `multipart/form-data; boundary=${boundary}`, "content-length": head.length + 50 * MiB + tail.length },
      chunks
    })
    assert.strictEqual(res.status, 413)
    assert.strictEqual(res.body.error.code, "payload_too_large")
    assert.strictEqual(uploadsOnDisk().length, before)
    // the body was never held in memory: the peak grew by far less than the 50 MB sent
    assert.isBelow((kib("VmHWM", status()) - rssBefore) / 1024, 25)
  })

  it("file names: too long or with control characters is a 400; a path is cut to its last segment; malformed multipart is a 400", async () => {
    const send = (body: string, boundary = "xyz") =>
      raw(url(), { headers: { ...auth, "content-type": `multipart/form-data; boundary=${boundary}` }, chunks: [body] })
    const long = await send(multipart("xyz", `${"a".repeat(300)}.txt`, "hello"))
    assert.strictEqual(long.status, 400)
    assert.strictEqual(long.body.error.code, "invalid_input")
    assert.strictEqual((await send(multipart("xyz", "nul\u0000name.txt", "hello"))).status, 400)
    assert.strictEqual((await send("--xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\nunterminated")).status, 400)
    assert.strictEqual((await send("this is not multipart at all")).status, 400)
    const noBoundary = await raw(url(), { headers: { ...auth, "content-type": "multipart/form-data" }, chunks: ["x"] })
    assert.strictEqual(noBoundary.status, 400)
    const pathy = await send(multipart("xyz", "../../etc/évil.txt", "fine"))
    assert.strictEqual(pathy.status, 202)
    assert.match(pathy.body.key, /^upload:\/\/[0-9a-f-]{36}\/%C3%A9vil\.txt$/)
    const record = await call(`${app.url}/api/records/rec-in`, { user: "ann" })
    assert.deepStrictEqual(record.body.attachments.map((a: { filename: string }) => a.filename), ["évil.txt"])
    assert.deepStrictEqual(uploadsOnDisk().filter((f) => !/^[0-9a-f-]{36}$/.test(f)), [])
  })

  it("NUL bytes and lone surrogates in file_url, filename or record id are a 400 naming each problem, never a 500", async () => {
    const json = (record: string, body: string) =>
      raw(`${app.url}/api/records/${record}/attachments`, { headers: { ...auth, "content-type": "application/json" }, chunks: [body] })
    const nul = await json("rec-in", JSON.stringify({ file_url: "s3://x/\u0000", filename: "a\u0000.pdf" }))
    assert.strictEqual(nul.status, 400)
    assert.strictEqual(nul.body.error.details.issues.length, 2)
    const lone = await json("rec-in", `{"file_url":"s3://x/\\ud800","filename":"\\udc00.pdf"}`)
    assert.strictEqual(lone.status, 400)
    assert.strictEqual(lone.body.error.details.issues.length, 2)
    for (const record of ["a%00b", "%ED%A0%80", "x".repeat(200)]) {
      assert.strictEqual((await json(record, JSON.stringify({ file_url: "s3://x/y.pdf", filename: "y.pdf" }))).status, 400, record)
      assert.strictEqual((await call(`${app.url}/api/records/${record}`, { user: "ann" })).status, 400, record)
    }
  })

  it("JSON bodies: a character split across chunks survives; 50 MB is a 413 without a reset; not JSON is a 400", async () => {
    const body = Buffer.from(JSON.stringify({ file_url: "s3://bucket/ümlaut.pdf", filename: "ümlaut.pdf" }))
    const at = body.indexOf(Buffer.from("ü")) + 1 // inside the two bytes of "ü"
    const split = await raw(`${app.url}/api/records/rec-utf8/attachments`, {
      headers: { ...auth, "content-type": "application/json" },
      chunks: [body.subarray(0, at), body.subarray(at)]
    })
    assert.strictEqual(split.status, 202)
    assert.strictEqual(split.body.key, "s3://bucket/ümlaut.pdf")
    const huge = await raw(`${app.url}/api/admin/import`, {
      headers: { authorization: "Bearer ops", "content-type": "application/json", "content-length": 50 * MiB },
      chunks: Array.from({ length: 50 }, () => Buffer.alloc(MiB, 32))
    })
    assert.strictEqual(huge.status, 413)
    assert.strictEqual(huge.body.error.code, "payload_too_large")
    const chunked = await raw(`${app.url}/api/admin/import`, {
      headers: { authorization: "Bearer ops", "content-type": "application/json" },
      chunks: Array.from({ length: 4 }, () => Buffer.alloc(64 * 1024, 32))
    })
    assert.strictEqual(chunked.status, 413)
    const broken = await raw(`${app.url}/api/admin/import`, { headers: { authorization: "Bearer ops", "content-type": "application/json" }, chunks: ["{\"count\":"] })
    assert.strictEqual(broken.status, 400)
  })

  it("compressed bodies: one that is not the gzip it claims is a 400, never a 500; a gzip bomb is a 413; valid gzip is read", async () => {
    const url = `${app.url}/api/records/rec-gzip/attachments`
    const headers = { ...auth, "content-type": "application/json", "content-encoding": "gzip" }
    const gzipped = gzipSync(JSON.stringify({ file_url: "s3://bucket/gzipped.pdf", filename: "gzipped.pdf" }))
    // not gzip at all, a truncated stream, and 4 MiB that is not gzip (the rest is read, no reset)
    for (const chunks of [["xx"], [gzipped.subarray(0, gzipped.length - 6)], Array.from({ length: 4 }, () => Buffer.alloc(MiB, 7))]) {
      const res = await raw(url, { headers, chunks })
      assert.strictEqual(res.status, 400)
      assert.deepStrictEqual(res.body, { error: { code: "invalid_input", message: "the body could not be decoded" } })
    }
    const unknown = await raw(url, { headers: { ...headers, "content-encoding": "x-unknown" }, chunks: ["{}"] })
    assert.strictEqual(unknown.status, 415)
    assert.strictEqual(unknown.body.error.code, "unsupported_media_type")
    // 64 MiB of spaces in 64 KiB of gzip: refused once 64 KiB are decompressed
    const bomb = gzipSync(Buffer.alloc(64 * MiB, 32), { level: 9 })
    const big = await raw(`${app.url}/api/admin/import`, { headers: { ...headers, authorization: "Bearer ops" }, chunks: [bomb] })
    assert.strictEqual(big.status, 413)
    assert.strictEqual(big.body.error.code, "payload_too_large")
    const ok = await raw(url, { headers, chunks: [gzipped] })
    assert.strictEqual(ok.status, 202)
    assert.strictEqual(ok.body.key, "s3://bucket/gzipped.pdf")
  })

  it("a truncated gzip bomb, an abandoned gzip body and an abandoned upload are answered or let go; the process lives on", async () => {
    const url = `${app.url}/api/records/rec-bomb/attachments`
    const headers = { ...auth, "content-type": "application/json", "content-encoding": "gzip" }
    // 50 MB of zeros in ~50 KB: a 100-byte prefix is over the 64 KiB limit once decompressed, and truncated
    const bomb = gzipSync(Buffer.alloc(50 * MiB), { level: 9 })
    const send = (body: Uint8Array, h: Record<string, string> = headers) =>
      fetch(url, { method: "POST", headers: h, body, signal: AbortSignal.timeout(5_000) })
        .then(async (res) => ({ status: res.status, body: await res.json() }))
    for (const n of [60, 100, 120, 300, 5_000]) {
      const r = await send(bomb.subarray(0, n))
      assert.include([400, 413], r.status, `prefix of ${n} bytes`)
    }
    assert.strictEqual((await send(bomb)).status, 413)
    /** A client that sends the first `n` bytes of `body` declared whole, then leaves. */
    const leave = async (h: Record<string, string | number>, body: Buffer, n: number) => {
      const left = request(url, { method: "POST", headers: { ...h, "content-length": body.length } })
      const closed = new Promise<void>((resolve) => left.once("close", () => resolve()))
      left.on("error", () => {})
      left.write(body.subarray(0, n), () => left.destroy())
      await closed
    }
    await leave(headers, bomb, 2_000)
    // a multipart upload left mid-file, and one whose body ends mid-file
    const form = Buffer.from(multipart("cut", "cut.txt", "x".repeat(100_000)))
    await leave({ ...auth, "content-type": "multipart/form-data; boundary=cut" }, form, 50_000)
    const cut = await send(form.subarray(0, 50_000), { ...auth, "content-type": "multipart/form-data; boundary=cut" })
    assert.strictEqual(cut.status, 400)
    const ok = await send(gzipSync(JSON.stringify({ file_url: "s3://bucket/after.pdf", filename: "after.pdf" })))
    assert.strictEqual(ok.status, 202)
    assert.isTrue(alive(app.process.pid!))
    assert.isNull(app.process.exitCode)
  })

  it("an upload gone before its job runs: the job fails at once with a fixed message, never the file system's (no path)", async () => {
    const first = await upload("uma", "rec-gone", "gone.txt", "soon gone")
    assert.strictEqual(first.status, 202)
    await until(() => as("uma", `/api/jobs/${first.body.id}`).then((r) => r.body.status), (s) => s === "completed", 10_000, "extracted once")
    // the job is deleted and the file removed (as on a runner of another machine, which never had it);
    // the backfill enqueues the attachment's extraction again
    assert.strictEqual((await as("uma", `/api/jobs/${first.body.id}`, { method: "DELETE" })).status, 204)
    rmSync(`${dir}/uploads/${/^upload:\/\/([0-9a-f-]{36})\//.exec(first.body.key)![1]}`)
    assert.strictEqual((await as("ops", "/api/admin/backfill", { method: "POST" })).body.enqueued, 1)
    const job = await until(
      () => as("uma", "/api/records/rec-gone").then((r) => r.body.attachments[0].extraction),
      (j) => j !== null && ["failed", "retrying"].includes(j.status),
      10_000,
      "the extraction ended"
    )
    assert.strictEqual(job.status, "failed")
    assert.strictEqual(job.attempts, 1) // missing is fatal: no retry finds it on this disk
    assert.strictEqual(job.error_message, "the uploaded file is not available to this server")
    const told = JSON.stringify([job, (await as("uma", `/api/jobs/${job.id}`)).body, (await as("uma", "/api/records/rec-gone")).body])
    assert.notInclude(told, dir)
    assert.notInclude(told, "ENOENT")
    // the operator's log names the error's code, not the path
    const logged = app.logs.find((l) => l.event === "upload.unreadable" && l.job_id === job.id)
    assert.deepInclude(logged, { code: "ENOENT" })
    assert.notInclude(JSON.stringify(app.logs.filter((l) => l.job_id === job.id)), dir)
  })

  it("a big upload's result is bounded (a 2,000-character excerpt, its byte length and hash); a record answers a page of attachments", async () => {
    // just under the 1 MiB upload limit, with a NUL (PostgreSQL's jsonb refuses it) and a character on the excerpt's edge
    const content = `Title\u0000 ${"lorem ipsum ".repeat(87_000)}`
    const bytes = Buffer.byteLength(content)
    const ids: Array<string> = []
    for (let i = 0; i < 5; i++) ids.push((await upload("rex", "rec-big", `big-${i}.txt`, content)).body.id)
    const small = (await upload("rex", "rec-big", "small.txt", "Just this.")).body.id
    for (const id of [...ids, small]) {
      await until(() => as("rex", `/api/jobs/${id}`).then((r) => r.body.status), (s) => s === "completed", 20_000, "extracted")
    }
    const { result } = (await as("rex", `/api/jobs/${ids[0]}`)).body
    assert.isAtMost(result.text.length, 2000)
    assert.isTrue(result.text.startsWith("Title lorem ipsum lorem"))
    assert.deepInclude(result, { truncated: true, bytes, sha256: createHash("sha256").update(content).digest("hex") })
    assert.deepInclude((await as("rex", `/api/jobs/${small}`)).body.result, { text: "Just this.", truncated: false, bytes: 10 })

    // 5 MB uploaded; the record's answer is a few KiB
    const res = await fetch(`${app.url}/api/records/rec-big`, { headers: auth_("rex") })
    const text = await res.text()
    assert.strictEqual(res.status, 200)
    assert.isBelow(text.length, 64 * 1024)
    assert.strictEqual(JSON.parse(text).attachments.length, 6)
    assert.isNull(JSON.parse(text).next_after)

    // a page at a time
    const seen: Array<string> = []
    let after: number | null = null
    do {
      const page: { status: number; body: { attachments: Array<{ filename: string }>; next_after: number | null } } =
        await as("rex", `/api/records/rec-big?limit=4${after === null ? "" : `&after=${after}`}`)
      assert.strictEqual(page.status, 200)
      assert.isAtMost(page.body.attachments.length, 4)
      seen.push(...page.body.attachments.map((a) => a.filename))
      after = page.body.next_after
    } while (after !== null)
    assert.deepStrictEqual(seen, ["big-0.txt", "big-1.txt", "big-2.txt", "big-3.txt", "big-4.txt", "small.txt"])
    for (const q of ["limit=0", "limit=101", "limit=x", "after=-1", "after=1e3"]) {
      assert.strictEqual((await as("rex", `/api/records/rec-big?${q}`)).status, 400, q)
    }
  }, 60_000)
})
