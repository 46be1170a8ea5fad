// Bundle the package's own modules, as tsc emitted them into dist/ (and deep-imports.mjs
// rewrote them), into one file per entry of its `exports` map, so that a host importing
// jobtrack reads, resolves and compiles a few files instead of one per source module: the
// cost of an import is per file (issue 13, item 6). Every other package (effect, kysely,
// @jobtrack/core, Koa…) stays an import, so the host's single copy is the one used. Code
// shared by two entries goes to a chunk (dist/chunks/), so that each class and service tag
// exists once; a module that the package imports dynamically (loaded when used) stays a
// file of its own, under its own name. The declarations (.d.ts) stay one per module, as tsc
// wrote them. Run from the package's directory after tsc: `node ../../scripts/bundle.mjs`.
import { build } from "esbuild"
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs"
import { dirname, join, relative } from "node:path"

const dist = "dist"
const staging = "dist.bundle"

/** The files under `root` whose names end with `suffix`, relative to `root`. */
const files = (root, suffix, dir = root) =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    return entry.isDirectory() ? files(root, suffix, path) : path.endsWith(suffix) ? [relative(root, path)] : []
  })

/** The entries: the exports map's targets, and the modules imported dynamically (`import("./x.js")`). */
const exported = (value) =>
  typeof value === "string" ? [value] : Object.values(value ?? {}).flatMap(exported)
const manifest = JSON.parse(readFileSync("package.json", "utf8"))
const entries = new Set(
  exported(manifest.exports).filter((f) => f.endsWith(".js")).map((f) => relative(dist, f))
)
for (const file of files(dist, ".js")) {
  const text = readFileSync(join(dist, file), "utf8")
  for (const m of text.matchAll(/\bimport\(\s*"(\.{1,2}\/[^"]+)"\s*\)/g)) {
    entries.add(relative(dist, join(dist, file, "..", m[1])))
  }
}

rmSync(staging, { recursive: true, force: true })
await build({
  entryPoints: [...entries].map((f) => join(dist, f)),
  outbase: dist,
  outdir: staging,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "es2023",
  packages: "external",
  sourcemap: true,
  chunkNames: "chunks/[name]-[hash]",
  logLevel: "warning"
})

// dist/: tsc's declarations, and the bundle's files in place of its modules
for (const file of [...files(dist, ".js"), ...files(dist, ".js.map")]) rmSync(join(dist, file))
for (const file of files(staging, "")) {
  mkdirSync(dirname(join(dist, file)), { recursive: true })
  renameSync(join(staging, file), join(dist, file))
}
rmSync(staging, { recursive: true, force: true })
