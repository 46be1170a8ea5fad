import { existsSync, mkdirSync } from "node:fs"
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

describe.skipIf(!haveChromium)("the newsletter page in Chromium", () => {
  let app: RunningApp
  let browser: Browser
  let page: Page
  beforeAll(async () => {
    app = await startApp(main, { DATA_DIR: tempDir("newsletters-page"), PIPELINE_TIME_SCALE: "0.5" })
    browser = await chromium.launch({
      executablePath: chromiumPath,
      args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
    })
    const context = await browser.newContext({ viewport: { width: 1000, height: 900 } })
    await context.addInitScript(() => localStorage.setItem("demo_user", "pia"))
    page = await context.newPage()
  })
  afterAll(async () => {
    await browser?.close()
    await app?.stop()
  })

  const card = () => page.locator(".card").first()
  const barWidth = async () => Number((await card().locator("[data-role=bar]").getAttribute("style"))!.match(/width:\s*([\d.]+)%/)![1])

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
  }, 90_000)
})
