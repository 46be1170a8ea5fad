import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { chromium } from "playwright-core"
import type { Browser, Page } from "playwright-core"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { startApp, tempDir, until } from "../../testing/harness.js"
import type { RunningApp } from "../../testing/harness.js"
import { underCI } from "../../../scripts/test-env.js"

const chromiumPath = "/usr/bin/chromium"

/**
 * Debian's chromium, installed before the tests by scripts/test-setup.sh (run by
 * `pnpm test`). Missing, the browser tests are skipped — under CI they must run.
 */
const haveChromium = (() => {
  if (existsSync(chromiumPath)) return true
  if (underCI()) throw new Error(`${chromiumPath} is missing under CI: run scripts/test-setup.sh as root`)
  return false
})()

const main = fileURLToPath(new URL("../src/main.ts", import.meta.url))
const artifacts = fileURLToPath(new URL("./artifacts/", import.meta.url))

// The mailbox fixture, its newest message titled with markup that runs script if rendered as HTML
const hostile = `<img src=x onerror="window.__xss = (window.__xss || 0) + 1"> Weekly`
const mailbox = (() => {
  const fixture = JSON.parse(readFileSync(new URL("../fixtures/mailbox.json", import.meta.url), "utf8")) as { messages: Array<{ subject: string }> }
  fixture.messages[0]!.subject = hostile
  const file = `${tempDir("newsletters-mailbox")}/mailbox.json`
  writeFileSync(file, JSON.stringify(fixture))
  return file
})()
// a sender that passes the sender pattern (no spaces) and is echoed into progress and error messages
const sender = "<img/src/onerror=window.__xss=(window.__xss||0)+1>@x.y"
const liveBlue = "rgb(47, 91, 211)"

/** Every Content-Security-Policy violation on the page, in window.__csp. */
const recordViolations = () => {
  const w = globalThis as unknown as { __csp?: Array<string>; document: { addEventListener: (t: string, f: (e: { violatedDirective: string; blockedURI: string }) => void) => void } }
  w.document.addEventListener("securitypolicyviolation", (e) => (w.__csp ??= []).push(`${e.violatedDirective} ${e.blockedURI}`))
}
const csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'"

describe.skipIf(!haveChromium)("the newsletter page in Chromium", () => {
  let app: RunningApp
  let browser: Browser
  let page: Page
  beforeAll(async () => {
    app = await startApp(main, { DATA_DIR: tempDir("newsletters-page"), PIPELINE_TIME_SCALE: "0.5", MAILBOX_FILE: mailbox })
    browser = await chromium.launch({
      executablePath: chromiumPath,
      args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
    })
    const context = await browser.newContext({ viewport: { width: 1000, height: 900 } })
    await context.addInitScript(() => localStorage.setItem("demo_user", "pia"))
    await context.addInitScript(recordViolations)
    page = await context.newPage()
  }, 240_000)
  afterAll(async () => {
    await browser?.close()
    await app?.stop()
  })

  const card = () => page.locator(".card").first()
  const barWidth = async () => Number((await card().locator("[data-role=bar]").getAttribute("style"))!.match(/width:\s*([\d.]+)%/)![1])

  it("the page and its files carry the console's security headers; no inline style or script is left", async () => {
    for (const path of ["/", "/app.js", "/style.css", "/favicon.svg"]) {
      const res = await fetch(`${app.url}${path}`)
      assert.strictEqual(res.status, 200, path)
      assert.strictEqual(res.headers.get("content-security-policy"), csp, path)
      assert.strictEqual(res.headers.get("x-content-type-options"), "nosniff", path)
      assert.strictEqual(res.headers.get("x-frame-options"), "DENY", path)
      assert.strictEqual(res.headers.get("referrer-policy"), "same-origin", path)
    }
    const html = await (await fetch(app.url)).text()
    assert.notMatch(html, /<style|style=|<script(?![^>]*\bsrc=)/)
  })

  it("extract, watch it progress, reload mid-job and resume, see the result; cancel another", async () => {
    await page.goto(app.url)
    await page.locator("#who").filter({ hasText: "pia" }).waitFor()
    await page.fill("input[name=hours_back]", "24")
    await page.fill("input[name=max_results]", "50")
    await page.click("button[type=submit]")
    await card().locator("[data-role=status]", { hasText: "processing" }).waitFor({ timeout: 10_000 })

    // the bar moves and the step message changes
    const messages = new Set<string>()
    const widths: Array<number> = []
    await until(async () => {
      widths.push(await barWidth())
      messages.add(((await card().locator("[data-role=message]").textContent()) ?? "").split("…")[0]!)
      return widths
    }, (w) => w.length > 2 && w.at(-1)! >= 40, 20_000, "progress to 40%")
    assert.isAbove(widths.at(-1)!, widths[0]!)
    assert.isAtLeast(messages.size, 2)

    // reload: the page finds the job again and keeps following it
    const before = await barWidth()
    await page.reload()
    await card().locator("[data-role=status]", { hasText: "processing" }).waitFor({ timeout: 5_000 })
    assert.isAtLeast(await barWidth(), before)
    await card().locator("[data-role=status]", { hasText: "completed" }).waitFor({ timeout: 30_000 })
    const results = await card().locator("[data-role=results]").textContent()
    assert.match(results!, /\d+ newsletters, \d+ links/)
    // the pipeline's stages are the job's durable steps, shown as text on the card
    const steps = await card().locator("[data-role=steps] li").allTextContents()
    assert.deepStrictEqual(steps, [
      "connect: completed",
      "fetch: completed",
      "parse: completed",
      "extract-links: completed",
      "save: completed"
    ])
    mkdirSync(artifacts, { recursive: true })
    await page.screenshot({ path: `${artifacts}newsletters-finished.png`, fullPage: true })

    // a second extraction, cancelled from the page
    await page.fill("input[name=hours_back]", "100")
    await page.click("button[type=submit]")
    const second = page.locator(".card").first()
    await second.locator("[data-role=status]", { hasText: "processing" }).waitFor({ timeout: 10_000 })
    await second.locator("[data-role=cancel]").click()
    await second.locator("[data-role=status]", { hasText: "cancelled" }).waitFor({ timeout: 10_000 })
    assert.strictEqual(await page.locator(".card").count(), 2)
    await page.screenshot({ path: `${artifacts}newsletters-cancelled.png`, fullPage: true })
    // it all ran under the page's CSP, nothing refused (the bar's width is set through the CSSOM)
    assert.isUndefined(await page.evaluate("window.__csp"))
  }, 90_000)

  it("user and job text is shown as text, never run; finished cards say how they ended; empty state; no 404s", async () => {
    const context = await browser.newContext({ viewport: { width: 1000, height: 900 } })
    await context.addInitScript(() => localStorage.setItem("demo_user", "mallory"))
    await context.addInitScript(recordViolations)
    const page = await context.newPage()
    const failures: Array<string> = []
    page.on("response", (r) => r.status() >= 400 && failures.push(`${r.status()} ${r.url()}`))
    page.on("dialog", (d) => {
      failures.push(`dialog ${d.message()}`)
      void d.dismiss()
    })
    const card = () => page.locator(".card").first()
    const extract = async (hours: number, senders: string) => {
      await page.fill("input[name=hours_back]", String(hours))
      await page.fill("input[name=max_results]", "5")
      await page.fill("input[name=senders]", senders)
      const before = await page.locator(".card").count()
      await page.click("button[type=submit]")
      await page.locator(".card").nth(before).waitFor()
    }
    const barColour = () =>
      card().locator("[data-role=bar]").evaluate((el: unknown) =>
        (globalThis as unknown as { getComputedStyle: (e: unknown) => { backgroundColor: string } }).getComputedStyle(el).backgroundColor)
    const message = async () => (await card().locator("[data-role=message]").textContent()) ?? ""

    await page.goto(app.url)
    await page.locator("#empty").waitFor({ state: "visible" })
    assert.strictEqual(await page.locator(".card").count(), 0)

    // a title: the hostile subject is listed as text
    await extract(1, "")
    assert.isTrue(await page.locator("#empty").isHidden())
    await card().locator("[data-role=status]", { hasText: "completed" }).waitFor({ timeout: 20_000 })
    assert.include(await card().locator("[data-role=results]").textContent(), hostile)
    assert.notMatch((await card().textContent())!, /attempt|\d\/\d/) // the retry budget is not the user's business

    // a progress message: the sender echoed while it runs; then cancelled
    await extract(100, sender)
    await until(message, (m) => m.includes(sender), 10_000, "the sender shown in the progress message")
    await card().locator("[data-role=cancel]").click()
    await card().locator("[data-role=status]", { hasText: "cancelled" }).waitFor({ timeout: 10_000 })
    assert.match(await message(), /^Cancelled at \d+%$/)
    assert.notStrictEqual(await barColour(), liveBlue)

    // an error: the sender echoed in the error message of a failed extraction
    await extract(1, `fail${sender}`)
    await card().locator("[data-role=status]", { hasText: "failed" }).waitFor({ timeout: 20_000 })
    assert.strictEqual(await card().locator("[data-role=error]").textContent(), `node exited with code 2: mailbox authentication failed for fail${sender}`)
    assert.strictEqual(await message(), "Extraction failed")
    assert.strictEqual(await barColour(), "rgb(221, 51, 51)")

    mkdirSync(artifacts, { recursive: true })
    await page.screenshot({ path: `${artifacts}newsletters-hostile-text.png`, fullPage: true })
    assert.strictEqual(await page.locator(".card img").count(), 0)
    assert.notMatch((await page.locator("#list").textContent())!, /null|undefined/)
    assert.isUndefined(await page.evaluate("window.__xss"))
    assert.isUndefined(await page.evaluate("window.__csp"))
    assert.deepStrictEqual(failures, [])
    await context.close()
  }, 90_000)
})
