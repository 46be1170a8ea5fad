/**
 * What a job costs through the store's hot path, build against build in
 * lockstep (issue 13, item 3): each build's PostgreSQL store (its own
 * database, so its backends can be told apart) gets N no-op jobs enqueued in
 * batches of 1,000, then claims 10 (`store.claim`) and completes them in one
 * batched write (`store.completeMany`), the builds taking turns batch by
 * batch, so the machine's load falls on both alike. Per build and round:
 * the database backends' CPU (from `/proc/<pid>/schedstat`, nanoseconds) and
 * this process's CPU spent inside each build's calls (the driver's parsing,
 * the store's mapping), per 1,000 jobs. The first round is a warm-up.
 *
 *   cd bench && STORE_COST_BUILDS=/work/a,/work/b \
 *     STORE_COST_URLS=postgres://…/db_a,postgres://…/db_b ../node_modules/.bin/node src/workloads/storeCost.ts
 *   STORE_COST_N=5000 STORE_COST_ROUNDS=6
 *   STORE_COST_HOLDER_WRITES=1: each claimed job also gets a heartbeat and a
 *   progress write (`store.heartbeat`, `store.progress`) before the batch's
 *   completion, as a long job's holder sends them
 *   STORE_COST_SINGLE=1: each claimed job is read (`store.get`) and completed
 *   by itself (`store.complete`) instead of in one batched write
 *
 * Each build must be built (`pnpm build`): its `packages/*` dist is imported.
 */
import { readFileSync } from "node:fs"
import { Effect, Exit, Scope } from "effect"
import pg from "pg"

const builds = (process.env.STORE_COST_BUILDS ?? "").split(",").filter(Boolean)
const urls = (process.env.STORE_COST_URLS ?? "").split(",").filter(Boolean)
const N = Number(process.env.STORE_COST_N ?? 5_000)
const ROUNDS = Number(process.env.STORE_COST_ROUNDS ?? 6)
const HOLDER_WRITES = process.env.STORE_COST_HOLDER_WRITES === "1"
const SINGLE = process.env.STORE_COST_SINGLE === "1"
const schema = "bench_store_cost"
if (builds.length === 0 || builds.length !== urls.length) {
  throw new Error("STORE_COST_BUILDS and STORE_COST_URLS: one database per build")
}

/** CPU nanoseconds a process ran so far (`/proc/<pid>/schedstat`, first field); 0 once gone. */
const runNs = (pid: number): number => {
  try {
    return Number(readFileSync(`/proc/${pid}/schedstat`, "utf8").split(" ")[0])
  } catch {
    return 0
  }
}

interface Variant {
  readonly build: string
  readonly admin: pg.Client
  // the builds' stores are typed by their own packages
  readonly store: any
  readonly jobId: () => string
  readonly scope: Scope.Closeable
  backendNs: number
  nodeUs: number
  claimed: number
}

const backendsNs = async (v: Variant): Promise<Map<number, number>> => {
  const { rows } = await v.admin.query<{ pid: number }>(
    "select pid from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()"
  )
  return new Map(rows.map(({ pid }) => [pid, runNs(pid)]))
}

const open = async (build: string, url: string): Promise<Variant> => {
  const kysely = await import(`${build}/packages/adapter-kysely/dist/index.js`)
  const core = await import(`${build}/packages/core/dist/index.js`)
  const admin = new pg.Client({ connectionString: url })
  await admin.connect()
  await admin.query(`drop schema if exists ${schema} cascade`)
  const scope = Effect.runSync(Scope.make())
  const store = await Effect.runPromise(Scope.provide(kysely.postgres({ connectionString: url, schema, max: 2 }), scope))
  return { build, admin, store, jobId: () => core.JobId.make(), scope, backendNs: 0, nodeUs: 0, claimed: 0 }
}

const fill = async (v: Variant) => {
  await v.admin.query(`truncate ${schema}.jobs cascade`)
  const runAt = new Date(Date.now() - 1000)
  for (let i = 0; i < N; i += 1000) {
    const jobs = Array.from({ length: Math.min(1000, N - i) }, (_, k) => ({
      id: v.jobId(), type: "noop", queue: "default", payload: { i: i + k }, maxAttempts: 1, priority: 0,
      runAt, owner: null, key: null, groupKey: null, groupLimit: null
    }))
    await Effect.runPromise(v.store.enqueueMany(jobs))
  }
  await v.admin.query(`vacuum analyze ${schema}.jobs`)
}

/** One batch: claim 10, complete them; false when nothing was left. */
const batch = async (v: Variant): Promise<boolean> => {
  const cpu0 = process.cpuUsage()
  const jobs: ReadonlyArray<{ id: string; token: number }> = await Effect.runPromise(
    v.store.claim({ queues: ["default"], types: ["noop"], workerId: "store-cost", leaseMs: 30_000, limit: 10 })
  )
  if (HOLDER_WRITES) {
    for (const j of jobs) {
      const lease = { id: j.id, token: j.token }
      await Effect.runPromise(v.store.heartbeat(lease, 30_000))
      await Effect.runPromise(v.store.progress(lease, 50, "half way"))
    }
  }
  if (SINGLE) {
    for (const j of jobs) {
      await Effect.runPromise(v.store.get(j.id))
      await Effect.runPromise(v.store.complete({ id: j.id, token: j.token }, null))
    }
  } else if (jobs.length > 0) {
    await Effect.runPromise(v.store.completeMany(jobs.map((j) => ({ lease: { id: j.id, token: j.token }, result: null }))))
  }
  const cpu = process.cpuUsage(cpu0)
  v.nodeUs += cpu.user + cpu.system
  v.claimed += jobs.length
  return jobs.length > 0
}

const main = async () => {
  const variants: Array<Variant> = []
  for (let i = 0; i < builds.length; i++) variants.push(await open(builds[i]!, urls[i]!))
  for (let round = 1; round <= ROUNDS; round++) {
    for (const v of variants) {
      await fill(v)
      v.backendNs = 0
      v.nodeUs = 0
      v.claimed = 0
    }
    const before = await Promise.all(variants.map(backendsNs))
    const load = readFileSync("/proc/loadavg", "utf8").split(" ")[0]
    let live = variants.slice()
    while (live.length > 0) {
      const next: Array<Variant> = []
      for (const v of live) if (await batch(v)) next.push(v)
      live = next
    }
    const after = await Promise.all(variants.map(backendsNs))
    variants.forEach((v, i) => {
      for (const [pid, ns] of after[i]!) v.backendNs += ns - (before[i]!.get(pid) ?? ns)
      console.log(JSON.stringify({
        round,
        load: Number(load),
        build: v.build,
        jobs: v.claimed,
        dbCpuMsPer1000: Number((v.backendNs / 1e6 / (v.claimed / 1000)).toFixed(1)),
        nodeCpuMsPer1000: Number((v.nodeUs / 1e3 / (v.claimed / 1000)).toFixed(1))
      }))
    })
  }
  for (const v of variants) {
    await Effect.runPromise(Scope.close(v.scope, Exit.void))
    await v.admin.query(`drop schema if exists ${schema} cascade`)
    await v.admin.end()
  }
  process.exit(0)
}

await main()
