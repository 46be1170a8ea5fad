import { execFileSync } from "node:child_process"
import { fileURLToPath } from "node:url"
import { afterAll, assert, describe, it } from "vitest"
import { until } from "../../testing/harness.js"
import { underCI } from "../../../scripts/test-env.js"

const main = fileURLToPath(new URL("../src/main.ts", import.meta.url))
const names = ["import-contacts", "flaky-mailbox", "to-be-cancelled", "ann: report A", "ann: report B", "resize-images"]

/**
 * Debian's tmux, installed before the tests by scripts/test-setup.sh (run by `pnpm test`).
 * Missing, this test is skipped — under CI it must run.
 */
const haveTmux = (() => {
  try {
    execFileSync("tmux", ["-V"], { stdio: "ignore" })
    return true
  } catch {
    if (underCI()) throw new Error("tmux is missing under CI: run scripts/test-setup.sh as root")
    return false
  }
})()

describe.skipIf(!haveTmux)("the terminal demo in tmux", () => {
  // a server of our own, so nothing here touches another tmux
  const socket = `jobtrack-demo-${process.pid}`
  const tmux = (...args: Array<string>) => execFileSync("tmux", ["-L", socket, ...args], { encoding: "utf8" })
  afterAll(() => {
    try {
      tmux("kill-server")
    } catch {
      // never started
    }
  })

  it("at 80 columns, every job has exactly one row, redrawn in place, none wider than the screen", async () => {
    const command = `'${process.execPath}' '${main}'; echo "demo exited $?"; sleep 600`
    tmux("new-session", "-d", "-x", "80", "-y", "40", "-s", "demo", command)
    const screen = await until(async () => tmux("capture-pane", "-p", "-t", "demo"), (s) => /demo exited \d+/.test(s), 120_000, "the demo finished")
    assert.match(screen, /demo exited 0/)
    assert.match(screen, /all terminal:/)
    const rows = screen.split("\n")
    for (const name of names) {
      assert.strictEqual(rows.filter((r) => r.startsWith(name)).length, 1, `${name}:\n${screen}`)
    }
    for (const row of rows) assert.isAtMost([...row].length, 80)
    assert.match(rows.find((r) => r.startsWith("to-be-cancelled"))!, /cancelled/)
    assert.match(rows.find((r) => r.startsWith("import-contacts"))!, /completed/)
  }, 180_000)
})
