import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { fileURLToPath } from "node:url"
import type { Browser, BrowserContext, Page } from "playwright-core"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { Effect, Layer } from "effect"
import { JobStore, MemoryStore } from "@jobtrack/core"
import { built, haveChromium, launch } from "./chromium.js"
import { consoleCall, eventually, flaky, idle, newYearSchedule, startConsoleApp } from "./consoleServer.js"
import type { ConsoleApp } from "./consoleServer.js"

// Screenshots go to docs/ only when asked (UPDATE_SCREENSHOTS=1), so a test run never
// rewrites tracked files; otherwise to a temporary folder (they are still taken, so a page
// that cannot render fails the test).
const docs = process.env.UPDATE_SCREENSHOTS === "1"
  ? fileURLToPath(new URL("../../../docs/", import.meta.url))
  : join(mkdtempSync(join(tmpdir(), "jobtrack-console-")), "/")

const hostile = `<img src=x onerror="window.__xss=(window.__xss||0)+1"><script>window.__xss=1</script>`

describe.skipIf(!haveChromium || !built)("the operator console in Chromium", () => {
  let app: ConsoleApp
  let browser: Browser
  const contexts: Array<BrowserContext> = []
  const open = async (user: string): Promise<Page> => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, extraHTTPHeaders: { "x-user": user } })
    contexts.push(context)
    const page = await context.newPage()
    page.on("dialog", (d) => void d.dismiss())
    return page
  }

  beforeAll(async () => {
    app = await startConsoleApp()
    browser = await launch()
  }, 120_000)
  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => {})
    await browser?.close()
    await app?.close()
  })

  it("open the console, filter, open a failed job, retry it and watch it complete live", async () => {
    // some history for the charts and counts
    for (let i = 0; i < 4; i++) await app.jobs.enqueue(flaky, { failFirst: 0 }, { owner: `user-${i}` })
    const { job } = await app.jobs.enqueue(flaky, { failFirst: 1, withStep: true }, { owner: "ann" })
    await eventually(() => app.jobs.get(job.id), (j) => j.status === "failed")
    await app.jobs.enqueueMany(idle, [1, 2, 3].map((n) => ({ payload: { n }, options: { owner: "bob" } })))

    const page = await open("admin")
    await page.goto(`${app.url}`)
    assert.strictEqual(new URL(page.url()).pathname, "/admin/jobs/")
    await page.locator("table.counts td", { hasText: "flaky" }).first().waitFor()
    await page.locator(".u-title", { hasText: "Jobs finished" }).first().waitFor()
    await page.screenshot({ path: `${docs}console-overview.png`, fullPage: true })

    await page.click("header nav >> text=Jobs")
    await page.selectOption("select[name=status]", "failed")
    await page.fill("input[name=type]", "flaky")
    await page.click("button[type=submit]")
    const row = page.locator(`tr[data-id="${job.id}"]`)
    // the filtered page: only the failed flaky job
    await eventually(() => page.locator("table.jobs tbody tr").count(), (n) => n === 1, 10_000)
    assert.include(await row.textContent(), "mailbox authentication failed")
    assert.include(page.url(), "status=failed")
    await page.screenshot({ path: `${docs}console-list.png`, fullPage: true })

    await row.locator("a").click()
    await page.locator("h2 .status", { hasText: "failed" }).waitFor()
    assert.include(await page.locator("pre.error-text").textContent(), "mailbox authentication failed")
    await page.click("button[data-action=retry]")
    // no reload: the detail follows the job through the store's changes
    await page.locator("h2 .status", { hasText: "completed" }).waitFor({ timeout: 15_000 })
    assert.include(await page.locator("pre.result").textContent(), "\"run\": 2")
    // the timeline: the step and the log line among the job's events, in time order
    const timeline = (await page.locator("table.timeline").textContent()) ?? ""
    assert.match(timeline, /^\s*\+0\.0 s\s*created[\s\S]*step "check mailbox" completed[\s\S]*attempt 1 failed[\s\S]*completed\s*\+[\d.]+ \w+\s*progress \d+%.*\(current\)\s*$/)
    assert.include(timeline, "mailbox checked")
    await page.screenshot({ path: `${docs}console-detail.png`, fullPage: true })

    await page.click("header nav >> text=Audit")
    await page.locator("table.audit td", { hasText: "retry" }).first().waitFor()
    assert.include(await page.locator("table.audit").textContent(), "admin@example.com")
  }, 90_000)

  it("bulk-cancel by filter: the matching jobs are cancelled by a tracked job and the list follows", async () => {
    const many = await app.jobs.enqueueMany(idle, Array.from({ length: 300 }, (_, n) => ({ payload: { n }, options: { owner: "cy" } })))
    const page = await open("admin")
    await page.goto(`${app.url}/#/jobs?type=idle&owner=cy&status=pending`)
    await page.locator("table.jobs tbody tr").first().waitFor()
    await page.click("button[data-bulk=cancel]")
    await page.click("button[data-confirm=yes]")
    await page.locator(".notice", { hasText: "Bulk job" }).waitFor()
    // the list empties by itself as the bulk job goes through the chunks
    await page.locator("text=No job matches.").waitFor({ timeout: 20_000 })
    for (const e of [many[0]!, many[299]!]) assert.strictEqual((await app.jobs.get(e.job.id)).status, "cancelled")
  }, 60_000)

  it("an action on every job, with no filter set, says so and is sent with \"all\": true (the API refuses an empty filter without it)", async () => {
    const { job } = await app.jobs.enqueue(idle, { n: 8 }, { owner: "eve", delay: "1 hour" })
    const page = await open("admin")
    await page.goto(`${app.url}/#/jobs`)
    await page.locator("table.jobs tbody tr").first().waitFor()
    // run-now on every job: harmless here (the idle jobs never run), unlike a cancel
    await page.click("button[data-bulk=runNow]")
    assert.include(await page.locator(".confirm").textContent(), "every job (no filter is set)")
    const sent = page.waitForRequest((r) => r.url().endsWith("/api/bulk"))
    await page.click("button[data-confirm=yes]")
    assert.deepStrictEqual((await sent).postDataJSON(), { action: "runNow", filter: {}, all: true })
    await page.locator(".notice", { hasText: "Bulk job" }).waitFor()
    await eventually(() => app.jobs.get(job.id), (j) => j.runAt.getTime() <= Date.now(), 20_000)
  }, 60_000)

  it("a read-only user sees no action controls, and the API refuses them (403)", async () => {
    const { job } = await app.jobs.enqueue(idle, { n: 7 })
    const page = await open("viewer")
    await page.goto(`${app.url}/#/jobs`)
    await page.locator("table.jobs tbody tr").first().waitFor()
    await page.locator(".badge", { hasText: "read-only" }).waitFor()
    assert.strictEqual(await page.locator("button[data-action], button[data-bulk], input[type=checkbox]").count(), 0)
    await page.goto(`${app.url}/#/jobs/${job.id}`)
    await page.locator("h2 .status", { hasText: "pending" }).waitFor()
    assert.strictEqual(await page.locator("button[data-action]").count(), 0)
    // the API itself, with the viewer's own token, from the console's own origin
    const status = await page.evaluate(async (id) => {
      const me = (await (await fetch("api/me")).json()) as { token: string }
      const res = await fetch(`api/jobs/${id}/action`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-console-token": me.token },
        body: JSON.stringify({ action: "cancel" })
      })
      return res.status
    }, job.id)
    assert.strictEqual(status, 403)
    assert.strictEqual((await app.jobs.get(job.id)).status, "pending")
  }, 60_000)

  it("the Schedules view lists the configured schedule with its next run", async () => {
    const [info] = await app.jobs.schedules.list()
    const next = info!.nextRunAt!.toISOString()
    const page = await open("viewer")
    await page.goto(`${app.url}/`)
    await page.click("header nav >> text=Schedules")
    const row = page.locator(`table.schedules tr[data-name="${newYearSchedule.name}"]`)
    await row.waitFor()
    assert.include(await row.textContent(), newYearSchedule.name)
    assert.include(await row.textContent(), "Europe/Berlin")
    // the next run: the API's instant, shown in the browser's local time
    const time = row.locator("td.next-run time")
    assert.strictEqual(await time.getAttribute("datetime"), next)
    assert.strictEqual(await time.textContent(), await page.evaluate((iso) => new Date(iso).toLocaleString(), next))
    // read-only: no schedule actions
    assert.strictEqual(await row.locator("button[data-schedule-action]").count(), 0)
  }, 60_000)

  it("the Schedules view pauses and resumes a schedule for an operator who may", async () => {
    const page = await open("admin")
    await page.goto(`${app.url}/#/schedules`)
    const row = page.locator(`table.schedules tr[data-name="${newYearSchedule.name}"]`)
    await row.locator("td.state", { hasText: "active" }).waitFor()
    await row.locator("button[data-schedule-action=pauseSchedule]").click()
    await row.locator("td.state", { hasText: "paused" }).waitFor()
    assert.isTrue((await app.jobs.schedules.get(newYearSchedule.name)).paused)
    await row.locator("button[data-schedule-action=resumeSchedule]").click()
    await row.locator("td.state", { hasText: "active" }).waitFor()
    assert.isFalse((await app.jobs.schedules.get(newYearSchedule.name)).paused)
  }, 60_000)

  it("a cross-site POST is refused, even with the admin's credentials attached", async () => {
    const { job } = await app.jobs.enqueue(idle, { n: 8 })
    const target = `${app.url}/api/jobs/${job.id}/action`
    // another site: a form that posts JSON-looking text, and a fetch without the token
    const evil = createServer((_req, res) => {
      res.setHeader("content-type", "text/html")
      res.end(`<form id=f method=POST enctype="text/plain" action="${target}">
        <input name='{"action":"cancel","x":"' value='"}'></form>
        <script>fetch(${JSON.stringify(target)}, { method: "POST", mode: "no-cors", body: '{"action":"cancel"}' })
          .finally(() => document.getElementById("f").submit())</script>`)
    })
    await new Promise<void>((resolve) => evil.listen(0, "localhost", resolve))
    const port = (evil.address() as AddressInfo).port
    try {
      const page = await open("admin")
      const answers: Array<number> = []
      page.on("response", (r) => {
        if (r.url() === target) answers.push(r.status())
      })
      await page.goto(`http://localhost:${port}/`)
      await eventually(async () => answers, (a) => a.length >= 2, 10_000)
      assert.deepStrictEqual(answers, [403, 403])
      assert.strictEqual((await app.jobs.get(job.id)).status, "pending")
    } finally {
      evil.close()
    }
  }, 60_000)

  it("charts whose store is still summarizing say so (partial buckets shaded); the note goes once they are whole", async () => {
    // a store whose chart summary is catching up: its 30 oldest buckets count only some jobs
    let catching = true
    // or, later, only its newest bucket does (a store busier than a chart's direct read)
    let newest = false
    const store = Layer.effect(
      JobStore,
      Effect.map(MemoryStore.make, (s) => ({
        ...s,
        series: (r: Parameters<typeof s.series>[0]) =>
          Effect.map(s.series(r), (buckets) =>
            buckets.map((b, i) =>
              (newest ? i === buckets.length - 1 : catching && i < 30) ? { ...b, partial: true as const } : b
            ))
      }))
    )
    const summarizing = await startConsoleApp({}, store)
    try {
      const page = await open("viewer")
      await page.goto(`${summarizing.url}/`)
      const notes = page.locator("section.charts p.catching-up")
      await eventually(() => notes.count(), (n) => n === 2, 10_000)
      assert.include(await notes.first().textContent(), "30 of 60 buckets")
      assert.include(await notes.nth(1).textContent(), "30 of 96 buckets")
      assert.strictEqual((await consoleCall(summarizing, "/api/series?range=hour", { user: "viewer" })).body.partial, true)
      await page.screenshot({ path: `${docs}console-catching-up.png`, fullPage: true })
      // a busy store whose summary is current: only its newest buckets count some of their jobs,
      // and the note says so rather than "catching up"
      newest = true
      const counting = page.locator("section.charts p.counting")
      await eventually(() => counting.count(), (n) => n === 2, 10_000)
      assert.strictEqual(await notes.count(), 0)
      assert.include(await counting.first().textContent(), "The newest bucket (shaded)")
      // the summary caught up: the next refresh shows whole charts, without a note
      catching = false
      newest = false
      await eventually(() => counting.count(), (n) => n === 0, 10_000)
      assert.strictEqual(await notes.count(), 0)
      await page.locator(".u-title", { hasText: "Jobs finished" }).first().waitFor()
      assert.strictEqual((await consoleCall(summarizing, "/api/series?range=day", { user: "viewer" })).body.partial, false)
    } finally {
      await summarizing.close()
    }
  }, 60_000)

  it("script stored in a payload, an error and a progress message is shown as text and never runs", async () => {
    const { job } = await app.jobs.enqueue(flaky, { failFirst: 1, message: hostile }, { owner: hostile, key: hostile })
    await eventually(() => app.jobs.get(job.id), (j) => j.status === "failed")
    const page = await open("admin")
    await page.goto(`${app.url}/#/jobs?type=flaky&status=failed`)
    await page.locator(`tr[data-id="${job.id}"]`).waitFor()
    await page.goto(`${app.url}/#/jobs/${job.id}`)
    await page.locator("pre.error-text").waitFor()
    assert.strictEqual(await page.locator("pre.error-text").textContent(), hostile)
    assert.include(await page.locator("pre.payload").textContent(), "onerror")
    await page.click("header nav >> text=Overview")
    await page.locator("table.counts").waitFor()
    assert.strictEqual(await page.locator("img[src=x]").count(), 0)
    assert.isUndefined(await page.evaluate(() => (globalThis as { __xss?: number }).__xss))
    // the API answers JSON, never HTML
    const r = await consoleCall(app, `/api/jobs/${job.id}`, { user: "viewer" })
    assert.strictEqual(r.body.errorMessage, hostile)
  }, 60_000)
})
