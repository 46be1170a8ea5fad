/**
 * What a user gets from npm: the three packages packed as they would be
 * published, linted (publint, attw with the ESM profile), installed with plain
 * npm into a fresh project that pins its own effect/kysely/pg/koa (the lowest
 * effect and kysely of the declared ranges), type-checked with
 * `skipLibCheck: false`, and run: one tracked job end to end over HTTP on the
 * system Node 20 and on Node 24. One install serves both runs. A second host
 * installs the same with what the documentation's snippets import: they
 * type-check there too (Kysely 0.28, the version npm installs on Node 20,
 * lacks subpaths 0.29 has), and the guide's first job runs, built on Node 20
 * and from source on Node 24.
 */
import { execFileSync, spawnSync } from "node:child_process"
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, cpSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { checkPackage, createPackageFromTarballData } from "@arethetypeswrong/core"
import { publint } from "publint"
import { formatMessage } from "publint/utils"
import ts from "typescript"
import { check, documents, root } from "../src/snippets.ts"

const url = process.env.DATABASE_URL
if (!url && process.env.CI === "true") throw new Error("DATABASE_URL must be set under CI")

const packages = ["core", "adapter-kysely", "adapter-koa"] as const
/** The host's own versions, within the declared peer ranges (effect and kysely at their floors). */
const hostVersions = {
  effect: "4.1.0",
  kysely: "0.28.2",
  pg: "8.23.1",
  koa: "3.3.0",
  "@koa/router": "15.7.0",
  "@types/koa": "3.0.3",
  "@types/pg": "^8.15.0",
  "@types/node": "^20.19.0"
}
/** What the documentation's snippets import besides (the versions the repository tests with). */
const docsVersions = {
  zod: "4.6.7",
  "@electric-sql/pglite": "0.5.16",
  vitest: "5.1.1",
  "@effect/vitest": "4.0.5",
  // vitest 5 declares @types/node ^22 || >=24 (an optional peer, which npm still enforces)
  "@types/node": "^22.0.0"
}
/** An app still on Effect 3. */
const effect3 = "3.22.4"
const node20 = "/usr/bin/node"
const node24 = join(root, "node_modules", "node", "bin", "node")

/** The newest modification time under `dir`. */
const newest = (dir: string): number =>
  readdirSync(dir, { withFileTypes: true }).reduce((t, e) => {
    const p = join(dir, e.name)
    return Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs)
  }, 0)

describe("the packed packages", () => {
  const dir = mkdtempSync(join(tmpdir(), "jobtrack-consumer-"))
  const tarballs = new Map<string, string>()
  beforeAll(() => {
    for (const p of packages) {
      const pkg = join(root, "packages", p)
      if (newest(join(pkg, "src")) > newest(join(pkg, "dist"))) {
        throw new Error(`packages/${p}/dist is older than its src: run the build first (pnpm test does)`)
      }
      // the build ran already (pnpm test); publishing runs it again through prepack
      const out = execFileSync("npx", ["-y", "pnpm@10.34.9", "pack", "--pack-destination", dir, "--config.ignore-scripts=true"], { cwd: pkg, encoding: "utf8" })
      const file = readdirSync(dir).find((f) => f.startsWith(`jobtrack-${p}-`) && f.endsWith(".tgz"))
      assert.isDefined(file, out)
      tarballs.set(p, join(dir, file!))
    }
  }, 300_000)
  // three more installs (docs host, Effect 3 hosts) to delete: more than the default 30 s on a loaded machine
  afterAll(() => rmSync(dir, { recursive: true, force: true }), 180_000)

  for (const p of packages) {
    it(`@jobtrack/${p}: publint finds nothing`, async () => {
      const tarball = readFileSync(tarballs.get(p)!)
      const { messages, pkg } = await publint({ pack: { tarball: tarball.buffer.slice(tarball.byteOffset, tarball.byteOffset + tarball.byteLength) as ArrayBuffer }, level: "suggestion", strict: true })
      assert.deepStrictEqual(messages.map((m) => `${m.type}: ${formatMessage(m, pkg, { color: false }) ?? m.code}`), [])
    })

    it(`@jobtrack/${p}: attw (ESM profile) finds nothing; LICENSE, README, CHANGELOG, declaration maps shipped`, async () => {
      const data = new Uint8Array(readFileSync(tarballs.get(p)!))
      const pkg = createPackageFromTarballData(data)
      const result = await checkPackage(pkg)
      assert.isTrue(result.types !== false, "ships types")
      const problems = "problems" in result ? result.problems : []
      const esm = problems.filter((x) => !("resolutionKind" in x) || (x.resolutionKind !== "node10" && x.resolutionKind !== "node16-cjs"))
      assert.deepStrictEqual(esm, [])
      const base = `/node_modules/@jobtrack/${p}`
      for (const f of ["LICENSE", "README.md", "CHANGELOG.md", "dist/index.d.ts.map", "src/index.ts"]) {
        assert.isTrue(pkg.fileExists(`${base}/${f}`), `${f} in the tarball`)
      }
      const manifest = JSON.parse(pkg.readFile(`${base}/package.json`)) as Record<string, Record<string, string>>
      assert.strictEqual(manifest.engines?.node, ">=20.19.0")
      assert.strictEqual(manifest.peerDependencies?.effect, "^4.1.0")
      assert.notProperty(manifest.dependencies ?? {}, "effect")
      assert.notMatch(JSON.stringify(manifest), /workspace:/)
    })
  }

  describe("the documentation's snippets in a fresh host project (Kysely 0.28, effect 4.1.0)", () => {
    const host = join(dir, "docs-host")
    const snippets = join(host, "snippets")
    const out = join(host, "dist")
    let problems: ReadonlyArray<string> = []
    beforeAll(() => {
      mkdirSync(host)
      writeFileSync(join(host, "package.json"), JSON.stringify({
        name: "docs-host",
        private: true,
        type: "module",
        dependencies: {
          ...Object.fromEntries(packages.map((p) => [`@jobtrack/${p}`, `file:${tarballs.get(p)}`])),
          ...hostVersions,
          ...docsVersions
        }
      }, null, 2))
      const install = spawnSync("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"], { cwd: host, encoding: "utf8", env: { ...process.env, npm_config_engine_strict: "true" } })
      assert.strictEqual(install.status, 0, `npm install failed:\n${install.stdout}\n${install.stderr}`)
      // what a user on Node 20 does: compile with tsc, run the JavaScript
      problems = check(documents(), [], {
        dir: snippets,
        options: {
          target: ts.ScriptTarget.ES2022,
          module: ts.ModuleKind.NodeNext,
          moduleResolution: ts.ModuleResolutionKind.NodeNext,
          lib: ["lib.es2023.d.ts", "lib.dom.d.ts"],
          types: ["node"],
          typeRoots: [join(host, "node_modules", "@types")],
          strict: true,
          exactOptionalPropertyTypes: true,
          skipLibCheck: true,
          allowImportingTsExtensions: true,
          rewriteRelativeImportExtensions: true,
          rootDir: snippets,
          outDir: out,
          noEmit: false
        }
      }).problems.map((p) => `${p.where}: ${p.message}`)
    }, 300_000)

    it("its Kysely is 0.28", () => {
      const version = (JSON.parse(readFileSync(join(host, "node_modules", "kysely", "package.json"), "utf8")) as { version: string }).version
      assert.strictEqual(version, hostVersions.kysely)
    })

    it("every snippet type-checks against the installed packages", () => {
      assert.deepStrictEqual(problems, [])
    })

    // the guide's first job, section 2, in both styles, run to completion on a memory store
    const driver = (jobsModule: string) => `
      import { Jobtrack, MemoryStore } from "@jobtrack/core"
      const { extractNewsletters } = await import(${JSON.stringify(jobsModule)})
      const jobs = Jobtrack.make({ store: MemoryStore.layer, definitions: [extractNewsletters] })
      await jobs.start()
      const { job } = await jobs.enqueue(extractNewsletters, { hours_back: 24, max_results: 3 }, { owner: "ann" })
      const progress = []
      let last
      for await (const view of jobs.watch(job.id)) {
        last = view
        if (view.progressMessage && !progress.includes(view.progressMessage)) progress.push(view.progressMessage)
      }
      await jobs.close()
      console.log("RESULT " + JSON.stringify({ node: process.version, status: last.status, result: last.result, error: last.errorMessage ?? undefined, progress: progress.length > 0 }))
    `
    for (const [name, node, from] of [
      ["built, on Node 20 (system)", node20, "dist"],
      ["from source, on Node 24", node24, "snippets"]
    ] as const) {
      for (const style of ["async", "src"]) {
        it(`the guide's ${style}/jobs.ts runs its pipeline ${name}`, () => {
          const file = join(host, `run-${from}-${style}.mjs`)
          const ext = from === "dist" ? "js" : "ts"
          writeFileSync(file, driver(`./${from}/docs_guide_md/${style}/jobs.${ext}`))
          const run = spawnSync(node, [file], { cwd: host, encoding: "utf8", timeout: 60_000 })
          const line = run.stdout.split("\n").find((l) => l.startsWith("RESULT "))
          assert.isDefined(line, `exit ${run.status}\n${run.stdout}\n${run.stderr}`)
          const result = JSON.parse(line!.slice(7)) as { node: string; status: string; result: unknown; error?: string; progress: boolean }
          assert.strictEqual(result.node.split(".")[0], node === node20 ? "v20" : "v24")
          assert.deepStrictEqual(result, {
            node: result.node,
            status: "completed",
            result: { newsletters: [{ sender: "news@example.com", subject: "Weekly" }] },
            progress: true
          }, result.error)
          assert.strictEqual(run.status, 0, run.stderr)
        }, 90_000)
      }
    }

    // the guide's first endpoint (section 5, async/api.ts) mounted as section 6 mounts it, on
    // Node 20, its store PGlite (src/store.ts without DATABASE_URL): 202 with an id, and a bad
    // payload or a body that is not JSON a 400, never a 500
    it("the guide's endpoint answers 202 with an id, and 400 for a bad payload and for a body that is not JSON", () => {
      const file = join(host, "run-endpoint.mjs")
      writeFileSync(file, `
        import Koa from "koa"
        const { api } = await import("./dist/docs_guide_md/async/api.js")
        const { jobs } = await import("./dist/docs_guide_md/async/tracker.js")
        const app = new Koa()
        app.use(async (ctx, next) => { ctx.state.user = "ann"; await next() })
        app.use(api.routes())
        const server = app.listen(0, "127.0.0.1")
        await new Promise((resolve) => server.once("listening", resolve))
        const url = "http://127.0.0.1:" + server.address().port + "/api/newsletters/extract"
        const post = async (body) => {
          const r = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body })
          return [r.status, await r.json()]
        }
        const out = {
          ok: await post(JSON.stringify({ hours_back: 24, max_results: 3 })),
          bad: await post(JSON.stringify({ hours_back: "a day" })),
          notJson: await post("{")
        }
        server.close()
        await jobs.close()
        console.log("RESULT " + JSON.stringify(out))
      `)
      const { DATABASE_URL: _url, ...env } = process.env
      // PGlite's first start takes 5-50 s on a loaded 2-core machine
      const run = spawnSync(node20, [file], { cwd: host, encoding: "utf8", timeout: 150_000, env })
      const line = run.stdout.split("\n").find((l) => l.startsWith("RESULT "))
      assert.isDefined(line, `exit ${run.status}\n${run.stdout}\n${run.stderr}`)
      type Answer = [number, { extraction_id?: string; error?: { code: string; message?: string; details?: { issues: ReadonlyArray<{ path: ReadonlyArray<string> }> } } }]
      const out = JSON.parse(line!.slice(7)) as { ok: Answer; bad: Answer; notJson: Answer }
      assert.strictEqual(out.ok[0], 202, JSON.stringify(out.ok))
      assert.isString(out.ok[1].extraction_id)
      assert.strictEqual(out.bad[0], 400, JSON.stringify(out.bad))
      assert.strictEqual(out.bad[1].error?.code, "invalid_input")
      assert.deepStrictEqual(out.bad[1].error?.details?.issues.map((i) => i.path.join(".")).sort(), ["payload.hours_back", "payload.max_results"])
      assert.deepStrictEqual(out.notJson, [400, { error: { code: "invalid_input", message: "body is not valid JSON" } }])
      assert.strictEqual(run.status, 0, run.stderr)
    }, 180_000)
  })

  // what docs/guide.md ("Effect 4 is required") says of an app on Effect 3
  describe("a host on Effect 3", () => {
    const host = join(dir, "effect3-host")
    const npm = (cwd: string, ...flags: Array<string>) =>
      spawnSync("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error", ...flags], { cwd, encoding: "utf8" })
    const manifest = (dependencies: Record<string, string>) =>
      JSON.stringify({ name: "effect3-host", private: true, type: "module", dependencies }, null, 2)

    it("npm refuses jobtrack beside Effect 3 (ERESOLVE on the effect peer)", () => {
      const plain = join(dir, "effect3-plain")
      mkdirSync(plain)
      writeFileSync(join(plain, "package.json"), manifest({ effect: effect3, "@jobtrack/core": `file:${tarballs.get("core")}` }))
      const install = npm(plain)
      assert.notStrictEqual(install.status, 0)
      assert.include(install.stderr, "ERESOLVE")
      assert.include(install.stderr, `peer effect@"^4.1.0" from @jobtrack/core`)
    }, 300_000)

    it("runs a job with the async/await API from a local package that has its own Effect 4 (Node 20)", () => {
      mkdirSync(join(host, "jobs"), { recursive: true })
      writeFileSync(join(host, "package.json"), manifest({ effect: effect3, jobs: "file:./jobs" }))
      writeFileSync(join(host, "jobs", "package.json"), JSON.stringify({
        name: "jobs",
        private: true,
        type: "module",
        main: "index.js",
        dependencies: { "@jobtrack/core": `file:${tarballs.get("core")}`, effect: hostVersions.effect, zod: docsVersions.zod }
      }, null, 2))
      writeFileSync(join(host, "jobs", "index.js"), [
        `import { z } from "zod"`,
        `import { JobDefinition, Jobtrack, MemoryStore } from "@jobtrack/core"`,
        `export const hello = JobDefinition.make({ type: "hello", payload: z.object({ name: z.string() }), run: async ({ name }) => ({ text: "hi " + name }) })`,
        `export const jobs = Jobtrack.make({ store: MemoryStore.layer, definitions: [hello] })`
      ].join("\n"))
      writeFileSync(join(host, "main.js"), [
        `import { Effect } from "effect"`,
        `import { createRequire } from "node:module"`,
        `import { hello, jobs } from "jobs"`,
        `await jobs.start()`,
        `const { job } = await jobs.enqueue(hello, { name: "ann" }, { owner: "ann" })`,
        `const result = await jobs.result(job.id, { owner: "ann" })`,
        `await jobs.close()`,
        `const version = createRequire(import.meta.url)("effect/package.json").version`,
        `console.log("RESULT " + JSON.stringify({ result, host: await Effect.runPromise(Effect.succeed(version)) }))`
      ].join("\n"))
      const install = npm(host)
      assert.strictEqual(install.status, 0, `npm install failed:\n${install.stdout}\n${install.stderr}`)
      const run = spawnSync(node20, [join(host, "main.js")], { cwd: host, encoding: "utf8", timeout: 60_000 })
      const line = run.stdout.split("\n").find((l) => l.startsWith("RESULT "))
      assert.isDefined(line, `exit ${run.status}\n${run.stdout}\n${run.stderr}`)
      assert.deepStrictEqual(JSON.parse(line!.slice(7)), { result: { text: "hi ann" }, host: effect3 })
      assert.strictEqual(run.status, 0, run.stderr)
    }, 300_000)
  })

  describe.skipIf(!url)("installed with npm into a fresh host project", () => {
    const host = join(dir, "host")
    beforeAll(() => {
      mkdirSync(host)
      cpSync(join(root, "packaging", "host", "src"), join(host, "src"), { recursive: true })
      cpSync(join(root, "packaging", "host", "tsconfig.json"), join(host, "tsconfig.json"))
      writeFileSync(join(host, "package.json"), JSON.stringify({
        name: "host-service",
        private: true,
        type: "module",
        dependencies: {
          ...Object.fromEntries(packages.map((p) => [`@jobtrack/${p}`, `file:${tarballs.get(p)}`])),
          ...hostVersions
        }
      }, null, 2))
      const install = spawnSync("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"], { cwd: host, encoding: "utf8", env: { ...process.env, npm_config_engine_strict: "true" } })
      assert.strictEqual(install.status, 0, `npm install failed:\n${install.stdout}\n${install.stderr}`)
    }, 300_000)

    it("one copy of effect and kysely: the host's", () => {
      const ls = spawnSync("npm", ["ls", "effect", "kysely", "--all", "--parseable"], { cwd: host, encoding: "utf8" })
      const paths = ls.stdout.trim().split("\n").map((l) => l.slice(host.length + 1)).sort()
      assert.deepStrictEqual(paths, ["node_modules/effect", "node_modules/kysely"])
      const version = (name: string) => (JSON.parse(readFileSync(join(host, "node_modules", name, "package.json"), "utf8")) as { version: string }).version
      assert.strictEqual(version("effect"), hostVersions.effect)
      assert.strictEqual(version("kysely"), hostVersions.kysely)
    })

    it("the host app type-checks with skipLibCheck: false (no PGlite installed)", () => {
      const tsc = spawnSync(process.execPath, [join(root, "node_modules", "typescript", "bin", "tsc"), "-p", host], { cwd: host, encoding: "utf8" })
      assert.strictEqual(tsc.status, 0, tsc.stdout + tsc.stderr)
    }, 600_000)

    for (const [name, node] of [["Node 20 (system)", node20], ["Node 24", node24]] as const) {
      it(`runs a tracked job end to end over HTTP on ${name}`, () => {
        const schema = `jt_host_${Math.random().toString(36).slice(2, 10)}`
        try {
          const run = spawnSync(node, [join(host, "dist", "main.js"), url!, schema], { cwd: host, encoding: "utf8", timeout: 60_000 })
          const line = run.stdout.split("\n").find((l) => l.startsWith("RESULT "))
          assert.isDefined(line, `exit ${run.status}\n${run.stdout}\n${run.stderr}`)
          const result = JSON.parse(line!.slice(7)) as { node: string; status: string; result: unknown; other: number }
          assert.strictEqual(result.node.split(".")[0], name.startsWith("Node 20") ? "v20" : "v24")
          assert.deepStrictEqual({ status: result.status, result: result.result, other: result.other }, { status: "completed", result: { words: 6 }, other: 404 })
          assert.strictEqual(run.status, 0, run.stderr)
        } finally {
          spawnSync("psql", [url!, "-c", `drop schema if exists "${schema}" cascade; drop schema if exists "${schema}_jobs" cascade`])
        }
      }, 90_000)
    }
  })
})
