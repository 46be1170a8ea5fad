/**
 * Worker instructions per no-op job (issue 13, item 3), counted by valgrind,
 * not timed: a load-independent measure of the worker process's CPU per job
 * for jobtrack, pg-boss and raw pg (the floor) on a machine whose wall-clock
 * CPU figures swing 1.5× with the other sessions' load.
 *
 * For each system and each drain size: this process enqueues the jobs (the
 * same `System`s as `pnpm bench`), then starts a child node process under
 * `valgrind --tool=cachegrind --cache-sim=no` that opens the system without
 * migrating (`attach`), runs workers of concurrency 10 until every job has
 * started, stops them (the last completions committed) and exits. Valgrind
 * counts every instruction of the child, in all its threads (V8's compilers
 * and GC helpers too), as `process.cpuUsage` would time them. Start-up,
 * connecting, JIT warm-up and shutdown cost the same at both sizes, so the
 * difference of two drains ÷ the difference of their sizes is the marginal
 * cost of a job in a warm worker:
 *
 *   per job = (I(N2) − I(N1)) ÷ (N2 − N1)
 *
 * Under valgrind the worker runs ~50× slower than the database, so claims come
 * back full (10 jobs) and pollers never wait: the count is of the work, not of
 * the machine's latency. The rounds repeat the pair; the spread between them
 * (JIT and GC timing) is printed.
 *
 *   cd bench && DATABASE_URL=postgres://postgres@127.0.0.1:5432/db ../node_modules/.bin/node src/workloads/workerInstr.ts
 *   WORKER_INSTR_SYSTEMS=jobtrack,pg-boss,raw-pg WORKER_INSTR_N=1000,5000 WORKER_INSTR_ROUNDS=2 …
 *   WORKER_INSTR_BASE=/work/base WORKER_INSTR_BASE_URL=postgres://…/db_base WORKER_INSTR_SYSTEMS=jobtrack,jobtrack-base …
 *     (jobtrack-base: another build's jobtrack, its `bench/src/systems.ts` and built packages, on its own database)
 *
 * Run after `pnpm build` (it imports the built packages). Prints one JSON line per system per round:
 * instructions at each size, and per job (thousands).
 */
import { spawn } from "node:child_process"
import { jobtrack, pgBoss, rawPg } from "../systems.ts"
import type { System, SystemOptions } from "../systems.ts"

const url = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test"
const SIZES = (process.env.WORKER_INSTR_N ?? "1000,5000").split(",").map(Number) as [number, number]
const ROUNDS = Number(process.env.WORKER_INSTR_ROUNDS ?? 2)
const names = (process.env.WORKER_INSTR_SYSTEMS ?? "jobtrack,pg-boss,raw-pg").split(",")
const BASE = process.env.WORKER_INSTR_BASE
const BASE_URL = process.env.WORKER_INSTR_BASE_URL ?? url
const CHILD = process.env.WORKER_INSTR_CHILD

/** A system by name, opened as the parent (migrated, emptied) or as the child (`attach`). */
const open = async (name: string, options: SystemOptions): Promise<System> => {
  switch (name) {
    case "jobtrack":
      return jobtrack(url, "bench_jobtrack", options)
    case "jobtrack-base": {
      if (!BASE) throw new Error("jobtrack-base needs WORKER_INSTR_BASE (a built clone)")
      const systems = await import(`${BASE}/bench/src/systems.ts`) as {
        jobtrack: (url: string, schema: string, options: SystemOptions) => Promise<System>
      }
      return { ...await systems.jobtrack(BASE_URL, "bench_jobtrack", options), name }
    }
    case "pg-boss":
      return pgBoss(url, options)
    case "raw-pg":
      return rawPg(url, options)
    default:
      throw new Error(`unknown system ${name}`)
  }
}

/** The child: drain `n` jobs enqueued by the parent, then exit. */
const child = async (name: string, n: number): Promise<void> => {
  const s = await open(name, { attach: true })
  let seen = 0
  let done!: () => void
  const all = new Promise<void>((r) => (done = r))
  await s.startWorkers(10, () => {
    if (++seen === n) done()
  })
  await all
  await s.stopWorkers()
  await s.close()
  process.exit(0)
}

/** Instructions of a child draining `n` jobs of `name`, under cachegrind. */
const counted = (name: string, n: number): Promise<number> =>
  new Promise((resolve, reject) => {
    const p = spawn(
      "valgrind",
      ["--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null", process.execPath, ...process.execArgv, process.argv[1]!],
      { env: { ...process.env, WORKER_INSTR_CHILD: `${name}:${n}` }, stdio: ["ignore", "inherit", "pipe"] }
    )
    let err = ""
    p.stderr.on("data", (d: Buffer) => (err += d.toString()))
    p.on("exit", (code) => {
      const m = /I\s+refs:\s+([\d,]+)/.exec(err)
      if (code !== 0 || !m) return reject(new Error(`${name} ${n}: exit ${code}\n${err.slice(-2000)}`))
      resolve(Number(m[1]!.replaceAll(",", "")))
    })
  })

const parent = async (): Promise<void> => {
  const systems = new Map<string, System>()
  for (const name of names) systems.set(name, await open(name, {}))
  for (let round = 1; round <= ROUNDS; round++) {
    for (const name of names) {
      const s = systems.get(name)!
      const counts: Array<number> = []
      for (const n of SIZES) {
        await s.reset()
        for (let i = 0; i < n; i += 1000) await s.enqueueBatch(i, Math.min(1000, n - i))
        counts.push(await counted(name, n))
      }
      const perJob = (counts[1]! - counts[0]!) / (SIZES[1] - SIZES[0])
      console.log(JSON.stringify({
        round,
        system: name,
        sizes: SIZES,
        instructions: counts,
        kInstructionsPerJob: Math.round(perJob / 100) / 10
      }))
    }
  }
  for (const s of systems.values()) await s.close()
}

if (CHILD) {
  const [name, n] = CHILD.split(":") as [string, string]
  await child(name, Number(n))
} else {
  await parent()
}
