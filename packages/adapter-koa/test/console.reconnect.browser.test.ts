import { connect, createServer } from "node:net"
import type { AddressInfo, Socket } from "node:net"
import type { Browser, BrowserContext, Page } from "playwright-core"
import { afterAll, afterEach, assert, beforeAll, describe, it } from "vitest"
import { built, haveChromium, launch } from "./chromium.js"
import { eventually, idle, startConsoleApp } from "./consoleServer.js"
import type { ConsoleApp } from "./consoleServer.js"

/** Open `url` as a stream (x-user: viewer) and read it until `close()`; its status. */
const holdStream = async (url: string) => {
  const abort = new AbortController()
  const res = await fetch(url, { headers: { "x-user": "viewer" }, signal: abort.signal })
  void (async () => {
    try {
      for await (const _ of res.body!) { /* read until closed */ }
    } catch {
      // aborted
    }
  })()
  return { status: res.status, close: () => abort.abort() }
}

/**
 * A TCP proxy to `port` whose `freeze()` stops passing bytes on the connections open now,
 * without closing them: what a laptop's sleep or a stuck proxy leaves a browser with.
 */
const freezingProxy = async (port: number) => {
  const open = new Set<readonly [Socket, Socket]>()
  const server = createServer((client) => {
    const upstream = connect(port, "127.0.0.1")
    const pair = [client, upstream] as const
    open.add(pair)
    client.pipe(upstream).pipe(client)
    const drop = () => {
      open.delete(pair)
      client.destroy()
      upstream.destroy()
    }
    client.on("error", drop).on("close", drop)
    upstream.on("error", drop).on("close", drop)
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  return {
    port: (server.address() as AddressInfo).port,
    freeze: () => {
      for (const [client, upstream] of open) {
        client.unpipe(upstream)
        upstream.unpipe(client)
        client.pause()
        upstream.pause()
      }
      open.clear()
    },
    close: () => {
      server.close()
    }
  }
}

describe.skipIf(!haveChromium || !built)("the console's live updates in Chromium: refused, dropped, resumed", () => {
  let browser: Browser
  const contexts: Array<BrowserContext> = []
  const apps: Array<ConsoleApp> = []
  const open = async (): Promise<Page> => {
    const context = await browser.newContext({ extraHTTPHeaders: { "x-user": "viewer" } })
    contexts.push(context)
    return context.newPage()
  }
  const start = async (...args: Parameters<typeof startConsoleApp>) => {
    const app = await startConsoleApp(...args)
    apps.push(app)
    return app
  }
  /** The request times of the page's change streams. */
  const streamRequests = (page: Page) => {
    const at: Array<number> = []
    page.on("request", (r) => {
      if (new URL(r.url()).pathname.endsWith("/api/events")) at.push(Date.now())
    })
    return at
  }
  const status = (page: Page) => page.locator("header .live-status")

  beforeAll(async () => {
    browser = await launch()
  }, 120_000)
  afterEach(async () => {
    for (const c of contexts.splice(0)) await c.close().catch(() => {})
    for (const a of apps.splice(0)) await a.close()
  })
  afterAll(async () => {
    await browser?.close()
  })

  it("a 429 pauses live updates (said as text), the page tries again after Retry-After, and resumes", async () => {
    const app = await start({ maxStreams: 1 })
    // another page holds the console's only stream
    const other = await holdStream(`${app.url}/api/events`)
    assert.strictEqual(other.status, 200)
    const page = await open()
    const requests = streamRequests(page)
    await page.goto(`${app.url}/`)
    await page.locator("table.counts").waitFor()
    await eventually(() => status(page).textContent(), (t) => /^Live updates paused: the server has too many live streams open\. Reconnecting in \d s\.$/.test(t ?? ""), 10_000)
    assert.strictEqual(await status(page).getAttribute("data-state"), "paused")
    other.close()
    // Retry-After: 5, and up to a second of jitter
    await status(page).and(page.locator("[data-state=live]")).waitFor({ timeout: 15_000 })
    assert.strictEqual(await status(page).textContent(), "Live")
    // the overview's three views share one stream: one refused request, then one that was served
    assert.strictEqual(requests.length, 2)
    assert.isAtLeast(requests[1]! - requests[0]!, 4_900)
    // and it is live: a job enqueued now shows up without a reload
    assert.strictEqual(await page.locator("table.counts td", { hasText: "idle" }).count(), 0)
    await app.jobs.enqueue(idle, { n: 1 })
    await page.locator("table.counts td", { hasText: "idle" }).waitFor({ timeout: 10_000 })
  }, 60_000)

  it("a server restart: the page says it is reconnecting, tries with backoff while the server is down, and catches up after", async () => {
    const app = await start()
    const page = await open()
    await page.goto(`${app.url}/`)
    await status(page).and(page.locator("[data-state=live]")).waitFor({ timeout: 10_000 })
    await app.offline()
    await eventually(() => status(page).textContent(), (t) => /^Live updates paused: the connection was lost\. Reconnecting/.test(t ?? ""), 10_000)
    // a try while the server is down fails, and says so
    await eventually(() => status(page).textContent(), (t) => /^Live updates paused: the server cannot be reached\. Reconnecting/.test(t ?? ""), 10_000)
    await app.jobs.enqueue(idle, { n: 2 })
    await app.online()
    await status(page).and(page.locator("[data-state=live]")).waitFor({ timeout: 20_000 })
    // what happened while it was down is read on ready
    await page.locator("table.counts td", { hasText: "idle" }).waitFor({ timeout: 10_000 })
  }, 60_000)

  it("two overview tabs leave connections for the console's reads (a browser opens at most 6 per origin)", async () => {
    const app = await start()
    const context = await browser.newContext({ extraHTTPHeaders: { "x-user": "viewer" } })
    contexts.push(context)
    const tabs = [await context.newPage(), await context.newPage()]
    for (const tab of tabs) {
      await tab.goto(`${app.url}/`)
      await tab.locator(".u-title", { hasText: "Jobs finished" }).first().waitFor()
    }
    await app.jobs.enqueue(idle, { n: 3 })
    for (const tab of tabs) await tab.locator("table.counts td", { hasText: "idle" }).waitFor({ timeout: 10_000 })
    // a third tab still loads
    const third = await context.newPage()
    await third.goto(`${app.url}/#/jobs`)
    await third.locator("table.jobs tbody tr").first().waitFor({ timeout: 10_000 })
  }, 60_000)

  it("a stream that goes silent (a half-open connection) is taken for dead after three ticks and 10 s, and opened again", async () => {
    const app = await start()
    const proxy = await freezingProxy(Number(new URL(app.origin).port))
    try {
      const page = await open()
      await page.goto(`http://127.0.0.1:${proxy.port}/admin/jobs/`)
      await status(page).and(page.locator("[data-state=live]")).waitFor({ timeout: 10_000 })
      proxy.freeze()
      // the test console ticks every 500 ms: silent for 11.5 s
      await eventually(() => status(page).textContent(), (t) => /^Live updates paused: no word from the server for 12 s\. Reconnecting/.test(t ?? ""), 20_000)
      await app.jobs.enqueue(idle, { n: 4 })
      await status(page).and(page.locator("[data-state=live]")).waitFor({ timeout: 10_000 })
      await page.locator("table.counts td", { hasText: "idle" }).waitFor({ timeout: 10_000 })
    } finally {
      proxy.close()
    }
  }, 60_000)
})
