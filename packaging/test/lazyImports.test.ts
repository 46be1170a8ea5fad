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
    // Node's own modules loaded so far (undici is one, loaded by node:http's ES facade on Node 24)
    for (const m of process.moduleLoadList) urls.add("node-internal:" + m)
    process.stdout.write(JSON.stringify([...urls]))`
  const child = spawnSync(node, ["--input-type=module", "-e", script], { cwd, encoding: "utf8" })
  assert.strictEqual(child.status, 0, child.stderr)
  return JSON.parse(child.stdout) as Array<string>
}

/**
 * Loaded only when used: kysely, PGlite, the body parser, telemetry exporters and JSON logs,
 * Prometheus, effect's Schema, Stream, PubSub and Semaphore, node:crypto, @koa/router (and with it, on
 * Node 24, Node's bundled undici).
 */
const optional: ReadonlyArray<readonly [string, RegExp]> = [
  ["kysely", /\/kysely\/dist\//],
  ["the JSON body parser", /\/@koa\/bodyparser\//],
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
  ["node:crypto", /^node:crypto$/],
  ["@koa/router", /\/@koa\/router\//],
  ["Node's bundled undici", /^node-internal:.*undici/]
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

/** Run `code` (an ES module's body) in a fresh process from packaging/; its stdout, parsed as JSON. */
const run = (node: string, code: string): any => {
  const child = spawnSync(node, ["--input-type=module", "-e", code], { cwd, encoding: "utf8" })
  assert.strictEqual(child.status, 0, child.stderr)
  return JSON.parse(child.stdout)
}

/**
 * Runs `build` while an `import()` of `specifier` is loading: at once when
 * `now`, at the next microtask, then at each turn of the event loop until
 * the import is done (Node 20 and 24 refuse a require of a module in that
 * state at different moments). The outcomes, in the script's `outcomes`;
 * then `imported`.
 */
const whileImporting = (specifier: string, build: string, now = false) => `
  const outcomes = []
  let settled = false
  const pending = import(${JSON.stringify(specifier)}).finally(() => { settled = true })
  const attempt = () => {
    if (settled) return false
    try { ${build}; outcomes.push("built") } catch (e) { outcomes.push(e instanceof ImportInFlight ? "ImportInFlight " + e.module : String(e)) }
    return true
  }
  ${now ? "attempt()" : ""}
  await Promise.resolve()
  attempt()
  await new Promise((resolve) => { const tick = () => attempt() ? setImmediate(tick) : resolve(); setImmediate(tick) })
  const imported = await pending`

describe("adapter-koa loads @koa/router when the first router is built, effect's Stream when the first stream is", () => {
  for (const [version, node] of Object.entries(nodes)) {
    it(`the instance a host's import gets, one copy, whichever comes first, on ${version}`, () => {
      for (const hostFirst of [true, false]) {
        const urls = loadedBy(node, `
          const host = ${hostFirst} ? await import("@koa/router") : undefined
          const { jobsRouter, metricsRouter } = await import("@jobtrack/adapter-koa")
          const metrics = metricsRouter({ authorize: () => true })
          const jobs = jobsRouter({ runtime: {}, tracker: () => Promise.reject(new Error("unused")) }, { owner: () => "ann" })
          const { default: Router } = host ?? await import("@koa/router")
          const outer = new Router().use("/jobs", jobs.routes())
          if (!(metrics instanceof Router && jobs instanceof Router)) throw new Error("not the host's Router")
          if (outer.stack.length === 0) throw new Error("not mounted")`)
        // the ES build only (not the CommonJS one, dist/index.js), once
        const files = urls.filter((u) => /\/@koa\/router\//.test(u))
        assert.strictEqual(files.length, 1, files.join(", "))
        assert.match(files[0]!, /\/@koa\/router\/dist\/index\.mjs$/)
      }
    }, 60_000)

    it(`a host that never imports @koa/router is served by the adapter's router, on ${version}`, () => {
      const out = run(node, `
        import { createServer, get } from "node:http"
        const { default: Koa } = await import("koa")
        const { metricsRouter } = await import("@jobtrack/adapter-koa")
        const app = new Koa().use(metricsRouter({ authorize: () => true }).routes())
        const server = createServer(app.callback()).listen(0)
        await new Promise((r) => server.once("listening", r))
        const res = await new Promise((resolve, reject) =>
          get({ port: server.address().port, path: "/metrics" }, resolve).on("error", reject))
        res.resume()
        server.close()
        process.stdout.write(JSON.stringify({ status: res.statusCode, type: res.headers["content-type"] }))`)
      assert.strictEqual(out.status, 200)
      assert.match(out.type, /^text\/plain/)
    }, 60_000)

    it(`building a router while the host's import of @koa/router is loading throws ImportInFlight, and works once it is done, on ${version}`, () => {
      const out = run(node, `
        const { ImportInFlight, metricsRouter } = await import("@jobtrack/adapter-koa")
        ${whileImporting("@koa/router", "metricsRouter({ authorize: () => true })")}
        const after = metricsRouter({ authorize: () => true })
        process.stdout.write(JSON.stringify({ outcomes, after: after instanceof imported.default }))`)
      // Node refuses to require a module that an import() is loading: the race is real
      assert.include(out.outcomes, "ImportInFlight @koa/router")
      for (const o of out.outcomes) assert.oneOf(o, ["built", "ImportInFlight @koa/router"])
      assert.isTrue(out.after)
    }, 60_000)

    it(`route modules imported in parallel: the adapter's router built as one loads, @koa/router imported by a larger one, on ${version}`, () => {
      const parallel = (jobs: string) => run(node, `
        const routes = import("./test/fixtures/koaHost/routes.mjs")
        const failure = await import("./test/fixtures/koaHost/${jobs}").then(() => undefined, (e) => e)
        const { default: Router } = await import("@koa/router")
        const { ImportInFlight, metricsRouter } = await import("@jobtrack/adapter-koa")
        process.stdout.write(JSON.stringify({
          failure: failure === undefined ? null : failure instanceof ImportInFlight ? failure.module : String(failure),
          routes: (await routes).routes instanceof Router,
          again: metricsRouter({ authorize: () => true }) instanceof Router
        }))`)
      // the typed error (when the timing makes the race; it does here); the host's own routes load
      // regardless, and building again once they have works
      const racing = parallel("jobs.mjs")
      assert.oneOf(racing.failure, [null, "@koa/router"])
      assert.isTrue(racing.routes)
      assert.isTrue(racing.again)
      // what the README advises: the module that builds the router imports @koa/router itself
      assert.deepStrictEqual(parallel("jobsImportingRouter.mjs"), { failure: null, routes: true, again: true })
    }, 60_000)

    // EventStream.frames is given a stream: effect's Stream module is evaluated once one exists (here
    // core's, loaded by the tracker), and requiring an evaluated module is safe while an import of it is pending
    it(`EventStream.frames on a tracker's stream, while an import of effect's Stream is pending, on ${version}`, () => {
      const out = run(node, `
        const { Jobtrack, MemoryStore } = await import("@jobtrack/core")
        const { EventStream, ImportInFlight } = await import("@jobtrack/adapter-koa")
        const jobs = Jobtrack.make({ store: MemoryStore.layer, definitions: [] })
        const views = (await jobs.tracker()).watch("j1")
        ${whileImporting("effect/Stream", "EventStream.frames(views, (v) => v, undefined)", true)}
        await jobs.close()
        process.stdout.write(JSON.stringify({ outcomes }))`)
      assert.isNotEmpty(out.outcomes)
      for (const o of out.outcomes) assert.strictEqual(o, "built")
    }, 60_000)

    it(`EventFanout.frames while an import of effect's Stream is loading throws ImportInFlight, and works once it is done, on ${version}`, () => {
      const out = run(node, `
        const { EventFanout, ImportInFlight } = await import("@jobtrack/adapter-koa")
        const fanout = EventFanout.make({ watch: () => { throw new Error("unused") } }, (v) => ({ status: v.status }))
        const view = { id: "j1", status: "completed", updatedAt: new Date(0) }
        ${whileImporting("effect/Stream", "EventFanout.frames(fanout, view, undefined)")}
        const Effect = await import("effect/Effect")
        const frames = await Effect.runPromise(imported.runCollect(EventFanout.frames(fanout, view, undefined)))
        process.stdout.write(JSON.stringify({ outcomes, frames: frames.map((f) => f.event) }))`)
      assert.include(out.outcomes, "ImportInFlight effect/Stream")
      for (const o of out.outcomes) assert.oneOf(o, ["built", "ImportInFlight effect/Stream"])
      assert.deepStrictEqual(out.frames, ["job"])
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
