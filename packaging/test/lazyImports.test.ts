/**
 * A plain import of each package loads none of its optional heavy parts: they
 * are loaded when used (issue 13, item 6). Checked in a real child process per
 * package and Node version (the system Node 20 and Node 24), by a module loader
 * hook registered before the import that reports every module it loads, plus
 * the CommonJS files in `require.cache`.
 */
import { spawnSync } from "node:child_process"
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "vitest"
import { root } from "../src/snippets.ts"

const cwd = fileURLToPath(new URL("..", import.meta.url)) // packaging/: resolves the three packages
const nodes = { "Node 20": "/usr/bin/node", "Node 24": join(root, "node_modules", "node", "bin", "node") }

/** The modules a fresh process loads when it runs `code` (an ES module's body; file URLs). */
const loadedBy = (node: string, code: string): ReadonlyArray<string> => {
  const script = `
    import { createRequire, register } from "node:module"
    import { MessageChannel } from "node:worker_threads"
    const { port1, port2 } = new MessageChannel()
    const urls = new Set()
    port1.on("message", (u) => urls.add(u))
    register("data:text/javascript," + encodeURIComponent(
      "let port; export function initialize(d) { port = d.port }" +
      " export async function load(url, context, next) { port.postMessage(url); return next(url, context) }"),
      { data: { port: port2 }, transferList: [port2] })
    ${code}
    // the hook runs off the main thread: wait until its messages stop coming
    for (let n = -1; n !== urls.size;) { n = urls.size; await new Promise((r) => setTimeout(r, 50)) }
    port1.close()
    for (const f of Object.keys(createRequire(import.meta.url).cache)) urls.add("file://" + f)
    process.stdout.write(JSON.stringify([...urls]))`
  const child = spawnSync(node, ["--input-type=module", "-e", script], { cwd, encoding: "utf8" })
  assert.strictEqual(child.status, 0, child.stderr)
  return JSON.parse(child.stdout) as Array<string>
}

/**
 * Loaded only when used: kysely, PGlite, the body parser, telemetry exporters and JSON logs,
 * Prometheus, effect's Schema, Stream, PubSub and Semaphore, node:crypto.
 */
const optional: ReadonlyArray<readonly [string, RegExp]> = [
  ["kysely", /\/kysely\/dist\//],
  ["the JSON body reader's raw-body and bourne", /\/(raw-body|@hapi\/bourne)\//],
  ["PGlite", /\/@electric-sql\/pglite\//],
  ["the OTLP exporters", /\/effect\/dist\/observability\/Otlp/],
  ["effect's fetch HTTP client", /\/effect\/dist\/http\/FetchHttpClient\.js$/],
  ["the Prometheus formatter", /\/effect\/dist\/observability\/PrometheusMetrics\.js$/],
  ["effect's Schema", /\/effect\/dist\/Schema\.js$/],
  ["effect's JSON logger", /\/effect\/dist\/Logger\.js$/],
  ["effect's HTTP headers (trace context)", /\/effect\/dist\/http\/(Headers|HttpTraceContext)\.js$/],
  ["effect's DateTime", /\/effect\/dist\/DateTime\.js$/],
  ["the SQL files of the migrations", /\/adapter-kysely\/dist\/sqlFiles\.js$/],
  ["effect's Stream", /\/effect\/dist\/Stream\.js$/],
  ["effect's Channel", /\/effect\/dist\/Channel\.js$/],
  ["effect's PubSub", /\/effect\/dist\/PubSub\.js$/],
  ["effect's Semaphore", /\/effect\/dist\/Semaphore\.js$/],
  ["node:crypto", /^node:crypto$/]
]

describe("a plain import loads no optional part", () => {
  for (const [version, node] of Object.entries(nodes)) {
    for (const pkg of ["@jobtrack/core", "@jobtrack/adapter-kysely", "@jobtrack/adapter-koa"]) {
      it(`${pkg} on ${version}`, () => {
        const urls = loadedBy(node, `await import(${JSON.stringify(pkg)})`)
        // the hook saw the import (else the check below would pass on nothing)
        assert.isTrue(urls.some((u) => /\/effect\/dist\/Effect\.js$/.test(u)), `no effect module seen: ${urls.length} urls`)
        for (const [what, pattern] of optional) {
          const hit = urls.find((u) => pattern.test(u))
          assert.isUndefined(hit, `${pkg} loaded ${what} on import`)
        }
      }, 60_000)
    }
  }

  it("and loads them when used: kysely and PGlite by a store, effect's Schema for an Effect Schema, Stream by a tracker", () => {
    const urls = loadedBy(nodes["Node 24"], `
      const Effect = await import("effect/Effect")
      const Exit = await import("effect/Exit")
      const Scope = await import("effect/Scope")
      const { Jobtrack, MemoryStore, PayloadSchema } = await import("@jobtrack/core")
      const jobs = Jobtrack.make({ store: MemoryStore.layer, definitions: [] })
      await jobs.start()
      await jobs.close()
      const { pglite } = await import("@jobtrack/adapter-kysely")
      // what an Effect Schema looks like to jobtrack (one made here would load the module itself)
      await Effect.runPromise(PayloadSchema.validate({ "~effect/Schema/Schema": "~effect/Schema/Schema" }, "x"))
      const scope = Effect.runSync(Scope.make())
      await Effect.runPromise(Scope.provide(pglite(), scope))
      await Effect.runPromise(Scope.close(scope, Exit.void))`)
    assert.isDefined(urls.find((u) => /\/kysely\/dist\/index\.js$/.test(u)))
    assert.isDefined(urls.find((u) => /\/@electric-sql\/pglite\//.test(u)))
    assert.isDefined(urls.find((u) => /\/effect\/dist\/Schema\.js$/.test(u)))
    assert.isDefined(urls.find((u) => /\/effect\/dist\/Stream\.js$/.test(u)))
    assert.isDefined(urls.find((u) => /\/effect\/dist\/PubSub\.js$/.test(u)))
  }, 120_000)

  for (const [version, node] of Object.entries(nodes)) {
    // the guide's TestJobs needs no test framework: vitest 5 does not run on Node 20, and a
    // host testing with another runner has none installed (the conformance suite, which
    // registers vitest tests, is @jobtrack/core/conformance)
    it(`@jobtrack/core/testing loads no test framework and drains a job, on ${version}`, () => {
      const urls = loadedBy(node, `
        const { JobDefinition } = await import("@jobtrack/core")
        const { TestJobs } = await import("@jobtrack/core/testing")
        const ping = JobDefinition.make({
          type: "ping",
          payload: { "~standard": { version: 1, vendor: "test", validate: (value) => ({ value }) } },
          run: async () => "pong"
        })
        const kit = await TestJobs.start({ definitions: [ping] })
        await kit.jobtrack.enqueue(ping, {})
        const { completed } = await kit.drain()
        await kit.close()
        if (completed.length !== 1) throw new Error("not drained")`)
      assert.isTrue(urls.some((u) => /\/core\/dist\/testing\.js$/.test(u)), `the testing entry not seen: ${urls.length} urls`)
      const framework = urls.filter((u) => /\/(vitest|@vitest|@effect\/vitest)\//.test(u))
      assert.deepStrictEqual(framework, [])
    }, 60_000)

    // EventStream.frames returns its stream at once: before the adapter has loaded Stream itself,
    // it requires it (the module the caller's stream came from: one instance)
    it(`adapter-koa's EventStream.frames works before the adapter loaded Stream, on ${version}`, () => {
      const script = `
        const Effect = await import("effect/Effect")
        const Stream = await import("effect/Stream")
        const { EventStream } = await import("@jobtrack/adapter-koa")
        const view = { id: "j1", status: "completed", updatedAt: new Date(0) }
        const frames = EventStream.frames(Stream.make(view), (v) => ({ status: v.status }), "stale")
        const all = await Effect.runPromise(Stream.runCollect(frames))
        process.stdout.write(JSON.stringify(all.map((f) => [f.event, f.data])))`
      const child = spawnSync(node, ["--input-type=module", "-e", script], { cwd, encoding: "utf8" })
      assert.strictEqual(child.status, 0, child.stderr)
      assert.strictEqual(child.stderr, "")
      assert.deepStrictEqual(JSON.parse(child.stdout), [["resume", { missed: true }], ["job", { status: "completed" }]])
    }, 60_000)
  }
})

describe("adapter-kysely's sources", () => {
  // kysely is loaded by kyselyModule.ts when first needed; sqlFiles.ts is itself loaded when used
  it("take kysely's values (sql, …) from kyselyModule.ts, never from \"kysely\" at the top", () => {
    const src = join(root, "packages", "adapter-kysely", "src")
    const offenders = (readdirSync(src, { recursive: true }) as Array<string>)
      .filter((f) => f.endsWith(".ts") && f !== "kyselyModule.ts" && f !== "sqlFiles.ts")
      .filter((f) => /^import (?!type\b)(?:\{[^}]*\}|[^\n{]*?) from "kysely(\/[^"]*)?"/m.test(readFileSync(join(src, f), "utf8")))
    assert.deepStrictEqual(offenders, [], `use import { sql } from "./kyselyModule.js" (or "../kyselyModule.js")`)
  })
})
