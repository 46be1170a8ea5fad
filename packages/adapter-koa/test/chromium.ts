import { existsSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { chromium } from "playwright-core"
import type { Browser } from "playwright-core"
import { underCI } from "../../../scripts/test-env.js"

const chromiumPath = "/usr/bin/chromium"
/** Debian's chromium (scripts/test-setup.sh installs it); under CI the tests must run. */
export const haveChromium = (() => {
  if (existsSync(chromiumPath)) return true
  if (underCI()) throw new Error(`${chromiumPath} is missing under CI: run scripts/test-setup.sh as root`)
  return false
})()

/** The console page must have been built (`pnpm run build` does it). */
export const built = existsSync(fileURLToPath(new URL("../console/index.html", import.meta.url)))

/** Debian's chromium, headless, without the background traffic of a desktop browser. */
export const launch = (): Promise<Browser> =>
  chromium.launch({
    executablePath: chromiumPath,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"]
  })
