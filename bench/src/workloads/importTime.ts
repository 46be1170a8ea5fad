/**
 * Import time (issue 13, item 6): how long a fresh Node process takes to
 * import each jobtrack package and each peer, cold (a new `node` per sample,
 * the samples of the packages interleaved so that all see the same moments of
 * a noisy machine). Per package, the median of:
 *
 * - `import`: `performance.now()` around `await import(package)` in the child
 *   (module resolution, reading, compiling and evaluating what it links);
 * - `cpu`: the child's CPU time (user + system, all its threads) over the same
 *   span: less moved than `import` by other processes on a loaded machine;
 * - `wall`: spawning the child to its exit (adds starting Node, the same for all);
 * - `files` and `KiB`: the files the child loaded and their size (ES modules
 *   seen by a loader hook, and CommonJS files in `require.cache`; one more
 *   child per package). These do not depend on the machine's load.
 *
 * Alone:
 *
 *   node src/workloads/importTime.ts            (from bench/, after `pnpm build`)
 *
 * `IMPORT_SAMPLES` (default 21) sets the samples per package, `IMPORT_NODE` the
 * node binary (default: this one), `IMPORT_PACKAGES` a comma-separated list.
 * Each round of samples starts one package further in the list.
 * `IMPORT_COMPARE=<dir>` also measures jobtrack's packages as resolved from
 * another checkout's `bench/` directory (built), interleaved with this one's
 * (rows `… (compared)`): before/after figures from the same minutes.
 *
 * Rows `… (after koa, @koa/router)`, for adapter-koa and the peers: the same
 * import in a process that has imported `koa` and `@koa/router` first (not
 * timed, their files not counted), as every host mounting the adapter's
 * routers has; what each adds to such a host (the peers too, since the
 * module loader is then warm for them as well). On Node 24, `@koa/router`'s
 * `import http from "http"` loads Node's bundled undici: a Koa host with its
 * own routers pays it anyway.
 *
 * `IMPORT_BUILD=1` adds, for adapter-koa, rows `… + jobsRouter`: the import
 * and then building one `jobsRouter` (on a stand-in `Jobtrack`: only the
 * router is built), timed together — what a host that mounts the router at
 * startup pays, since @koa/router is loaded when the first router is built.
 */
import { spawnSync } from "node:child_process"
import { statSync } from "node:fs"
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

/** The imports of `before`, untimed, ahead of the measured one (a script's first statements). */
const importsOf = (before: ReadonlyArray<string>) => before.map((p) => `await import(${JSON.stringify(p)});`).join(" ")

/**
 * One cold import in a fresh process, after importing `before` (untimed):
 * [import ms, wall ms, cpu ms].
 */
export const sample = (
  pkg: string,
  node = process.execPath,
  from = cwd,
  before: ReadonlyArray<string> = [],
  then = ""
): readonly [number, number, number] => {
  const script = `${importsOf(before)}
    const t = performance.now(); const c = process.cpuUsage(); const m = await import(${JSON.stringify(pkg)}); ${then}
    const u = process.cpuUsage(c); process.stdout.write(JSON.stringify([performance.now() - t, (u.user + u.system) / 1000]))`
  const t0 = performance.now()
  const child = spawnSync(node, ["--input-type=module", "-e", script], { cwd: from, encoding: "utf8" })
  const wall = performance.now() - t0
  if (child.status !== 0) throw new Error(`importing ${pkg}: ${child.stderr}`)
  const [ms, cpu] = JSON.parse(child.stdout) as [number, number]
  return [ms, wall, cpu]
}

const median = (xs: ReadonlyArray<number>) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}

/**
 * The files a fresh process loads when it imports `pkg` (after `before`, whose
 * files are not counted): the URLs a loader hook (registered before the
 * import) sees, and the CommonJS files required from them (`require.cache`).
 */
export const modulesLoaded = (
  pkg: string,
  node = process.execPath,
  from = cwd,
  before: ReadonlyArray<string> = [],
  then = ""
): ReadonlyArray<string> => {
  const script = `
    import { createRequire, register } from "node:module"
    import { MessageChannel } from "node:worker_threads"
    ${importsOf(before)}
    const required = new Set(Object.keys(createRequire(import.meta.url).cache))
    const { port1, port2 } = new MessageChannel()
    const urls = new Set()
    port1.on("message", (u) => urls.add(u))
    register("data:text/javascript," + encodeURIComponent(
      "let port; export function initialize(d) { port = d.port }" +
      " export async function load(url, context, next) { port.postMessage(url); return next(url, context) }"),
      { data: { port: port2 }, transferList: [port2] })
    const m = await import(${JSON.stringify(pkg)}); ${then}
    await new Promise((r) => setTimeout(r, 100))
    port1.close()
    for (const f of Object.keys(createRequire(import.meta.url).cache)) if (!required.has(f)) urls.add("file://" + f)
    process.stdout.write(JSON.stringify([...urls].filter((u) => !u.startsWith("node:") && !u.startsWith("data:"))))`
  const child = spawnSync(node, ["--input-type=module", "-e", script], { cwd: from, encoding: "utf8" })
  if (child.status !== 0) throw new Error(`importing ${pkg}: ${child.stderr}`)
  return JSON.parse(child.stdout) as Array<string>
}

/** The bytes of the files at `urls` (file: URLs). */
const bytesOf = (urls: ReadonlyArray<string>) =>
  urls.reduce((n, u) => n + (u.startsWith("file:") ? statSync(fileURLToPath(u)).size : 0), 0)

/** One measured row: a package, resolved from a `bench/` directory, imported after `before` (untimed). */
export interface Subject {
  readonly label: string
  readonly pkg: string
  readonly from: string
  readonly before?: ReadonlyArray<string> | undefined
  /** Code run after the import, timed with it (the module is `m`). */
  readonly then?: string | undefined
}

/** Building a `jobsRouter` on a stand-in `Jobtrack` (the router only), after importing adapter-koa as `m`. */
export const buildJobsRouter =
  "m.jobsRouter({ runtime: {}, tracker: () => Promise.reject(new Error(\"unused\")) }, { owner: () => null })"

/** What every host mounting adapter-koa's routers has imported: the marginal row's untimed imports. */
export const koaHost = ["koa", "@koa/router"] as const

/** Per subject: medians of `import`, `wall` and `cpu` (ms) over `samples` interleaved cold starts, files and bytes. */
export const importTimes = (
  list: ReadonlyArray<string | Subject> = packages,
  samples = 21,
  node = process.execPath
): Map<string, { importMs: number; wallMs: number; cpuMs: number; modules: number; bytes: number }> => {
  const subjects = list.map((s) => typeof s === "string" ? { label: s, pkg: s, from: cwd } : s)
  const runs = new Map(subjects.map((s) => [s.label, { ms: [] as Array<number>, walls: [] as Array<number>, cpus: [] as Array<number> }]))
  for (const s of subjects) sample(s.pkg, node, s.from, s.before, s.then) // warm the file system cache
  for (let i = 0; i < samples; i++) {
    // each round starts one subject further: none is always the one after a given other
    for (const s of [...subjects.slice(i % subjects.length), ...subjects.slice(0, i % subjects.length)]) {
      const [m, w, c] = sample(s.pkg, node, s.from, s.before, s.then)
      const r = runs.get(s.label)!
      r.ms.push(m)
      r.walls.push(w)
      r.cpus.push(c)
    }
  }
  return new Map(subjects.map((s) => {
    const r = runs.get(s.label)!
    const urls = modulesLoaded(s.pkg, node, s.from, s.before, s.then)
    return [s.label, {
      importMs: median(r.ms),
      wallMs: median(r.walls),
      cpuMs: median(r.cpus),
      modules: urls.length,
      bytes: bytesOf(urls)
    }]
  }))
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const list = process.env.IMPORT_PACKAGES?.split(",") ?? packages
  const node = process.env.IMPORT_NODE ?? process.execPath
  const samples = Number(process.env.IMPORT_SAMPLES ?? 21)
  const compare = process.env.IMPORT_COMPARE
  const build = process.env.IMPORT_BUILD === "1"
  const rows = (pkg: string, suffix = "", before?: ReadonlyArray<string>, then?: string): Array<Subject> => [
    ...(compare && pkg.startsWith("@jobtrack/") ? [{ label: `${pkg}${suffix} (compared)`, pkg, from: compare, before, then }] : []),
    { label: `${pkg}${suffix}`, pkg, from: cwd, before, then }
  ]
  const after = ` (after ${koaHost.join(", ")})`
  const subjects: Array<Subject> = list.flatMap((pkg) => [
    ...rows(pkg),
    ...(pkg === "@jobtrack/adapter-koa" || !pkg.startsWith("@jobtrack/") ? rows(pkg, after, koaHost) : []),
    ...(pkg === "@jobtrack/adapter-koa" && build
      ? [...rows(pkg, " + jobsRouter", [], buildJobsRouter), ...rows(pkg, `${after} + jobsRouter`, koaHost, buildJobsRouter)]
      : [])
  ])
  const version = spawnSync(node, ["--version"], { encoding: "utf8" }).stdout.trim()
  console.log(`cold import, ${samples} samples per package, interleaved, node ${version}${compare ? `, compared: ${compare}` : ""}`)
  console.log("package | import p50 (ms) | cpu p50 (ms) | wall p50 (ms) | files loaded | KiB loaded")
  for (const [label, r] of importTimes(subjects, samples, node)) {
    console.log(`${label} | ${r.importMs.toFixed(1)} | ${r.cpuMs.toFixed(1)} | ${r.wallMs.toFixed(1)} | ${r.modules} | ${(r.bytes / 1024).toFixed(0)}`)
  }
}
