/**
 * Worker CPU per 1,000 no-op jobs (issue 13, item 3), jobtrack against its
 * peers in the same run: for each system in turn (the same `System`s as
 * `pnpm bench`), enqueue N no-op jobs on PostgreSQL, then drain them with
 * workers of concurrency 10 in this process, and report the process's CPU
 * time during the drain (user + system, from `process.cpuUsage`) and the
 * drain's jobs/s, and the CPU time the database's backends used meanwhile
 * (every backend connected to this database, from `/proc/<pid>/stat`, so only
 * when PostgreSQL runs on this machine: the claims, completions and commits
 * of the system under test). Systems take turns within each round, so each round
 * compares them in the same minutes; the first round is JIT warm-up.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test node bench/src/workloads/workerCpu.ts
 *   WORKER_CPU_N=10000 WORKER_CPU_ROUNDS=4 WORKER_CPU_SYSTEMS=jobtrack,pg-boss node bench/src/workloads/workerCpu.ts
 *   WORKER_CPU_SYSTEMS=memory node bench/src/workloads/workerCpu.ts   (jobtrack's runner on MemoryStore, no database)
 *   WORKER_CPU_SYSTEMS=jobtrack,pg-boss,raw-pg node bench/src/workloads/workerCpu.ts   (raw-pg: the floor, `rawPg` in systems.ts)
 *   WORKER_CPU_PROFILE=/tmp/prof node bench/src/workloads/workerCpu.ts   (a .cpuprofile of each drain of the last round)
 *   WORKER_CPU_BASE=/work/base WORKER_CPU_BASE_URL=postgres://…/db_base WORKER_CPU_SYSTEMS=jobtrack,jobtrack-base,pg-boss …
 *     (jobtrack-base: another build's jobtrack, its `bench/src/systems.ts` and built packages, on its own
 *     database, so that build and this one take turns within each round; DB CPU is read per database)
 *
 * Each line also has the system CPU and the main thread's CPU (`/proc/self/task`, 10 ms ticks) per 1,000
 * jobs: the rest is V8's worker threads (compilers, GC helpers). A `.cpuprofile` samples wall time: a
 * worker descheduled inside `writev` (the backend it woke took the core) shows there as if busy.
 *
 * Run after `pnpm build` (it imports the built packages). Prints one JSON line per system per round.
 */
import { readFileSync } from "node:fs"
import { writeFile } from "node:fs/promises"
import { Session } from "node:inspector/promises"
import { Effect, Exit, Schema, Scope } from "effect"
import { JobDefinition, JobStore, MemoryStore, RetryPolicy, Runner, Tracker } from "@jobtrack/core"
import pg from "pg"
import { backendsCpuMs, backendsCpuSince } from "../procCpu.ts"
import { graphileWorker, jobtrack, pgBoss, rawPg } from "../systems.ts"
import type { System } from "../systems.ts"

const url = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test"
const N = Number(process.env.WORKER_CPU_N ?? 10_000)
const ROUNDS = Number(process.env.WORKER_CPU_ROUNDS ?? 4)
const PROFILE = process.env.WORKER_CPU_PROFILE
const names = (process.env.WORKER_CPU_SYSTEMS ?? "jobtrack,pg-boss,graphile-worker").split(",")
const BASE = process.env.WORKER_CPU_BASE
const BASE_URL = process.env.WORKER_CPU_BASE_URL ?? url

/**
 * CPU milliseconds this process's main thread has used so far (`/proc/self/task/<pid>/stat`): the
 * rest of `process.cpuUsage` is V8's worker threads (compilers, GC helpers) and libuv's. 0 elsewhere.
 */
const mainThreadCpuMs = (): number => {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, "utf8")
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return (Number(fields[11]) + Number(fields[12])) * 10
  } catch {
    return 0
  }
}
/** Another build's jobtrack (WORKER_CPU_BASE), named `jobtrack-base`, on its own database. */
const jobtrackBase = async (): Promise<System> => {
  if (!BASE) throw new Error("jobtrack-base needs WORKER_CPU_BASE (a built clone)")
  const systems = await import(`${BASE}/bench/src/systems.ts`) as { jobtrack: (url: string) => Promise<System> }
  return { ...await systems.jobtrack(BASE_URL), name: "jobtrack-base" }
}

/** jobtrack's runner over MemoryStore: the runner's own cost with an in-process store. */
const memory = async (): Promise<System> => {
  let onStart: (i: number) => void = () => {}
  const noop = JobDefinition.make({
    type: "noop",
    payload: Schema.Struct({ i: Schema.Int }),
    retry: RetryPolicy.none,
    handler: ({ i }) => Effect.sync(() => onStart(i))
  })
  let store = await Effect.runPromise(MemoryStore.make)
  let runnerScope: Scope.Closeable | undefined
  return {
    name: "memory",
    enqueueOne: async () => "",
    enqueueBatch: async (from, count) => {
      const tracker = await Effect.runPromise(Tracker.make({ definitions: [noop] }).pipe(Effect.provideService(JobStore, store)))
      await Effect.runPromise(tracker.enqueueMany(noop, Array.from({ length: count }, (_, k) => ({ payload: { i: from + k } }))))
    },
    startWorkers: async (concurrency, f) => {
      onStart = f
      runnerScope = Effect.runSync(Scope.make())
      await Effect.runPromise(Scope.provide(
        Runner.make({ definitions: [noop], concurrency, prune: false }).pipe(Effect.provideService(JobStore, store)),
        runnerScope
      ))
    },
    stopWorkers: async () => {
      if (runnerScope) await Effect.runPromise(Scope.close(runnerScope, Exit.void))
    },
    getById: async () => undefined,
    reset: async () => {
      store = await Effect.runPromise(MemoryStore.make)
    },
    close: async () => {}
  }
}

const makers: Record<string, (url: string) => Promise<System>> = {
  jobtrack,
  "pg-boss": pgBoss,
  "graphile-worker": graphileWorker,
  "raw-pg": rawPg,
  "jobtrack-base": jobtrackBase,
  memory
}

const main = async () => {
  const systems: Array<System> = []
  for (const name of names) {
    const make = makers[name]
    if (!make) throw new Error(`unknown system ${name} (${Object.keys(makers).join(", ")})`)
    systems.push(await make(url))
  }
  const admin = names.some((n) => n !== "memory" && n !== "jobtrack-base") ? new pg.Client({ connectionString: url }) : undefined
  await admin?.connect()
  const baseAdmin = names.includes("jobtrack-base") ? new pg.Client({ connectionString: BASE_URL }) : undefined
  await baseAdmin?.connect()
  for (let round = 1; round <= ROUNDS; round++) {
    for (const s of systems) {
      await s.reset()
      for (let i = 0; i < N; i += 1000) await s.enqueueBatch(i, Math.min(1000, N - i))
      const sAdmin = s.name === "jobtrack-base" ? baseAdmin : admin
      await sAdmin?.query("checkpoint")
      let seen = 0
      let done: () => void = () => {}
      const all = new Promise<void>((r) => (done = r))
      const profile = PROFILE && round === ROUNDS ? new Session() : undefined
      if (profile) {
        profile.connect()
        await profile.post("Profiler.enable")
        await profile.post("Profiler.start")
      }
      const db0 = sAdmin ? await backendsCpuMs(sAdmin) : new Map<number, number>()
      const main0 = mainThreadCpuMs()
      const cpu0 = process.cpuUsage()
      const t0 = performance.now()
      await s.startWorkers(10, () => {
        if (++seen === N) done()
      })
      await all
      const secs = (performance.now() - t0) / 1000
      const cpu = process.cpuUsage(cpu0)
      const mainMs = mainThreadCpuMs() - main0
      const db = sAdmin ? backendsCpuSince(db0, await backendsCpuMs(sAdmin)) : 0
      if (profile) {
        const { profile: p } = await profile.post("Profiler.stop")
        await writeFile(`${PROFILE}/${s.name}.cpuprofile`, JSON.stringify(p))
        profile.disconnect()
      }
      await s.stopWorkers()
      console.log(JSON.stringify({
        round,
        load: Number(readFileSync("/proc/loadavg", "utf8").split(" ")[0]),
        system: s.name,
        n: N,
        jobsPerSecond: Math.round(N / secs),
        cpuMsPer1000: Math.round((cpu.user + cpu.system) / 1000 / (N / 1000)),
        systemCpuMsPer1000: Math.round(cpu.system / 1000 / (N / 1000)),
        mainThreadCpuMsPer1000: Math.round(mainMs / (N / 1000)),
        dbCpuMsPer1000: Math.round(db / (N / 1000))
      }))
    }
  }
  for (const s of systems) {
    await s.reset()
    await s.close()
  }
  await admin?.end()
  await baseAdmin?.end()
  process.exit(0)
}

await main()
