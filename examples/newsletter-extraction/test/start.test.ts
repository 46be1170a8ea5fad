import { execFileSync } from "node:child_process"
import { existsSync, readFileSync } from "node:fs"
import { delimiter, join } from "node:path"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "vitest"
import { call, startCommand, tempDir } from "../../testing/harness.js"

// The examples as a user starts them: `pnpm start` runs the package's start script with
// `sh -c`, with the Node that runs pnpm in npm_node_execpath. Here that Node is the
// system's (Node 20 on this machine), not the project's Node 24, and the built app must
// run on it; SIGTERM to the script's process must reach the app, which shuts down cleanly.
const examples = fileURLToPath(new URL("../../", import.meta.url))
const systemNode = process.env.PATH!.split(delimiter)
  .filter((dir) => !dir.includes("node_modules"))
  .map((dir) => join(dir, "node"))
  .find((file) => existsSync(file)) ?? process.execPath

describe("the example apps, started by their start scripts", () => {
  for (const [example, check] of [
    ["newsletter-extraction", "/api/newsletters/extractions/00000000-0000-4000-8000-000000000000/status"],
    ["attachment-pipeline", "/api/records/none"]
  ] as const) {
    it(`${example}: runs on ${execFileSync(systemNode, ["--version"], { encoding: "utf8" }).trim()}, and SIGTERM to the script stops it cleanly`, async () => {
      const dir = join(examples, example)
      assert.isTrue(existsSync(join(dir, "dist/main.js")), "built by `pnpm run build`")
      const start = (JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { scripts: { start: string } }).scripts.start
      const data = tempDir(`${example}-start`)
      const app = await startCommand("sh", ["-c", start], {
        npm_node_execpath: systemNode,
        DATA_DIR: `${data}/data`,
        UPLOADS_DIR: `${data}/uploads`
      }, dir)
      assert.strictEqual((await call(`${app.url}${check}`, { user: "ann" })).status, 404)
      assert.strictEqual(await app.stop("SIGTERM"), 0)
      assert.includeMembers(app.logs.map((l) => l.event), ["app.stopping", "app.stopped"])
    }, 240_000)
  }
})
