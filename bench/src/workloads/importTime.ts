/**
 * Import time (issue 13, item 6): how long a fresh Node process takes to
 * import each jobtrack package and each peer, cold (a new `node` per sample,
 * the samples of the packages interleaved so that all see the same moments of
 * a noisy machine). Per package, the median of:
 *
 * - `import`: `performance.now()` around `await import(package)` in the child
 *   (module resolution, reading, compiling and evaluating what it links);
 * - `wall`: spawning the child to its exit (adds starting Node, the same for all);
 * - `files`: the files the child loaded (ES modules seen by a loader hook, and
 *   CommonJS files in `require.cache`; one more child per package).
 *
 * Alone:
 *
 *   node src/workloads/importTime.ts            (from bench/, after `pnpm build`)
 *
 * `IMPORT_SAMPLES` (default 21) sets the samples per package, `IMPORT_NODE` the
 * node binary (default: this one), `IMPORT_PACKAGES` a comma-separated list.
 */
import { spawnSync } from "node:child_process"
import { fileURLToPath, pathToFileURL } from "node:url"

/** The packages measured: jobtrack's three and the peers'. */
export const packages = [
  "@jobtrack/core",
  "@jobtrack/adapter-kysely",
  "@jobtrack/adapter-koa",
  "pg-boss",
  "graphile-worker"
] as const

const cwd = fileURLToPath(new URL("../..", import.meta.url)) // bench/: where the packages resolve

/** One cold import in a fresh process: [import ms, wall ms]. */
export const sample = (pkg: string, node = process.execPath): readonly [number, number] => {
  const script = `const t = performance.now(); await import(${JSON.stringify(pkg)});
    process.stdout.write(String(performance.now() - t))`
  const t0 = performance.now()
  const child = spawnSync(node, ["--input-type=module", "-e", script], { cwd, encoding: "utf8" })
  const wall = performance.now() - t0
  if (child.status !== 0) throw new Error(`importing ${pkg}: ${child.stderr}`)
  return [Number(child.stdout), wall]
}

const median = (xs: ReadonlyArray<number>) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}

/**
 * The files a fresh process loads when it imports `pkg`: the URLs a loader hook
 * (registered before the import) sees, and the CommonJS files required from
 * them (`require.cache`).
 */
export const modulesLoaded = (pkg: string, node = process.execPath): ReadonlyArray<string> => {
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
    await import(${JSON.stringify(pkg)})
    await new Promise((r) => setTimeout(r, 100))
    port1.close()
    for (const f of Object.keys(createRequire(import.meta.url).cache)) urls.add("file://" + f)
    process.stdout.write(JSON.stringify([...urls].filter((u) => !u.startsWith("node:") && !u.startsWith("data:"))))`
  const child = spawnSync(node, ["--input-type=module", "-e", script], { cwd, encoding: "utf8" })
  if (child.status !== 0) throw new Error(`importing ${pkg}: ${child.stderr}`)
  return JSON.parse(child.stdout) as Array<string>
}

/** Per package: medians of `import` and `wall` (ms) over `samples` interleaved cold starts. */
export const importTimes = (
  list: ReadonlyArray<string> = packages,
  samples = 21,
  node = process.execPath
): Map<string, { importMs: number; wallMs: number; modules: number }> => {
  const ms = new Map<string, Array<number>>(list.map((p) => [p, []]))
  const walls = new Map<string, Array<number>>(list.map((p) => [p, []]))
  for (const pkg of list) sample(pkg, node) // warm the file system cache
  for (let i = 0; i < samples; i++) {
    for (const pkg of list) {
      const [m, w] = sample(pkg, node)
      ms.get(pkg)!.push(m)
      walls.get(pkg)!.push(w)
    }
  }
  return new Map(list.map((p) => [p, {
    importMs: median(ms.get(p)!),
    wallMs: median(walls.get(p)!),
    modules: modulesLoaded(p, node).length
  }]))
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const list = process.env.IMPORT_PACKAGES?.split(",") ?? packages
  const node = process.env.IMPORT_NODE ?? process.execPath
  const samples = Number(process.env.IMPORT_SAMPLES ?? 21)
  const version = spawnSync(node, ["--version"], { encoding: "utf8" }).stdout.trim()
  console.log(`cold import, ${samples} samples per package, interleaved, node ${version}`)
  console.log("package | import p50 (ms) | wall p50 (ms) | files loaded")
  for (const [pkg, r] of importTimes(list, samples, node)) {
    console.log(`${pkg} | ${r.importMs.toFixed(1)} | ${r.wallMs.toFixed(1)} | ${r.modules}`)
  }
}
