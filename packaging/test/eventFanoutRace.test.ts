/**
 * `EventFanout.frames` on the built adapter while an `import()` of effect's
 * `Stream` is still loading elsewhere in the process (Node refuses to
 * require an ES module in that state: `ERR_REQUIRE_ESM_RACE_CONDITION` on
 * Node 24). Two shapes a host meets: a request served while a tracker is
 * being built (core imports `Stream` then), and route modules imported in
 * parallel, one using `Stream` behind a larger graph, the other taking a
 * job's frames as it loads. Each in a fresh process, on Node 20 and 24.
 */
import { spawnSync } from "node:child_process"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "vitest"
import { root } from "../src/snippets.ts"

const cwd = fileURLToPath(new URL("..", import.meta.url)) // packaging/: resolves the three packages
const nodes = { "Node 20": "/usr/bin/node", "Node 24": join(root, "node_modules", "node", "bin", "node") }

/** Run `code` (an ES module's body) in a fresh process from packaging/; its stdout, parsed as JSON. */
const run = (node: string, code: string): any => {
  const child = spawnSync(node, ["--input-type=module", "-e", code], { cwd, encoding: "utf8" })
  assert.strictEqual(child.status, 0, child.stderr)
  return JSON.parse(child.stdout)
}

/** The events of the frames `EventFanout.frames` gives (in the child: `Effect` and `Stream` imported). */
const collect = `const events = async (s) => (await Effect.runPromise(Stream.runCollect(Stream.unwrap(s)))).map((f) => f.event)`

/**
 * In the child: `duringStreamLoad(f)` runs `f` once while an import of effect's
 * `Stream` is loading (the loader is asked for `effect/dist/Stream.js`, not yet
 * evaluated), on the loader's own signal. Node 24: a synchronous hook
 * (`registerHooks`), `f` right after it; Node 20 (no `registerHooks`): an
 * off-thread hook that holds that load until `f` has run. `streamLoadDone()`
 * closes the channel.
 */
const whileStreamLoads = `
  const { MessageChannel } = await import("node:worker_threads")
  const Module = await import("node:module")
  const streamFile = /\\/effect\\/dist\\/Stream\\.js$/
  let duringStreamLoad, streamLoadDone = () => {}
  if (Module.registerHooks !== undefined) {
    let pending
    duringStreamLoad = (f) => { pending = f }
    Module.registerHooks({
      load(url, context, next) {
        if (pending !== undefined && streamFile.test(url)) { queueMicrotask(pending); pending = undefined }
        return next(url, context)
      }
    })
  } else {
    const { port1, port2 } = new MessageChannel()
    Module.register("data:text/javascript," + encodeURIComponent(
      "let port; export function initialize(d) { port = d.port }" +
      " export async function load(url, context, next) {" +
      "   if (" + streamFile + ".test(url)) { const go = new Promise((r) => port.once('message', r)); port.postMessage('loading'); await go }" +
      "   return next(url, context) }"),
      { data: { port: port2 }, transferList: [port2] })
    duringStreamLoad = (f) => port1.once("message", () => { try { f() } finally { port1.postMessage("go") } })
    streamLoadDone = () => port1.close()
  }`

describe("EventFanout.frames while effect's Stream is being imported", () => {
  for (const [version, node] of Object.entries(nodes)) {
    it(`called while a tracker is being built (as the build's import of Stream loads), on ${version}`, () => {
      const out = run(node, `
        ${whileStreamLoads}
        const { Jobtrack, MemoryStore } = await import("@jobtrack/core")
        const { EventFanout } = await import("@jobtrack/adapter-koa")
        const fanout = EventFanout.make({ watch: () => { throw new Error("unused") } }, (v) => ({ status: v.status }))
        const view = { id: "j1", status: "completed", updatedAt: new Date(0) }
        const outcomes = []
        const streams = []
        // a request served while the tracker's build imports Stream asks for a job's frames
        duringStreamLoad(() => {
          try { streams.push(EventFanout.frames(fanout, view, undefined)); outcomes.push("built") }
          catch (e) { outcomes.push(String(e.code ?? e)) }
        })
        const jobs = Jobtrack.make({ store: MemoryStore.layer, definitions: [] })
        await jobs.tracker()
        streamLoadDone()
        const Effect = await import("effect/Effect")
        const Stream = await import("effect/Stream")
        ${collect}
        const got = []
        for (const s of streams) got.push(await events(s))
        await jobs.close()
        process.stdout.write(JSON.stringify({ outcomes, got }))`)
      assert.deepStrictEqual(out, { outcomes: ["built"], got: [["job"]] })
    }, 60_000)

    it(`route modules imported in parallel, one using Stream, one taking frames as it loads, on ${version}`, () => {
      const out = run(node, `
        const streams = import("./test/fixtures/eventsHost/streams.mjs")
        const loaded = await import("./test/fixtures/eventsHost/events.mjs").then((m) => m, (e) => String(e.code ?? e))
        await streams
        const Effect = await import("effect/Effect")
        const Stream = await import("effect/Stream")
        ${collect}
        process.stdout.write(JSON.stringify(typeof loaded === "string" ? { failure: loaded } : { got: await events(loaded.events) }))`)
      assert.deepStrictEqual(out, { got: ["job"] })
    }, 60_000)
  }
})
