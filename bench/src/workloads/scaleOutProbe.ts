/**
 * Why W2 with several worker processes (`scaleOut.ts`) grows or shrinks
 * (issue 13, item 7): the same drain — a backlog of `n` no-op jobs, 1, 2 and
 * 4 real child processes × concurrency 10 on one PostgreSQL, all started
 * together — with its costs counted per job:
 *
 * - CPU (from /proc) of the children and of their database backends, from
 *   "go" to the start of the last job, per 1,000 jobs;
 * - the database's transactions per job (`pg_stat_database`, read after the
 *   children exit, when their backends have flushed their counters), and for
 *   jobtrack its `claim()` and `complete_many()` calls per job
 *   (`pg_stat_user_functions`, the children run with `track_functions = pl`);
 * - for jobtrack, the children's own counters (their store wrapped): claims,
 *   jobs per claim, empty claims, completion writes and their size, the
 *   notifications heard;
 * - what the children's backends were doing: `pg_stat_activity` sampled every
 *   PROBE_SAMPLE_MS (active share, wait events).
 *
 * Configurations run in turns (systems × process counts) for PROBE_ROUNDS
 * rounds; the load average is printed with each. From bench/ after `pnpm build`:
 *
 *   DATABASE_URL=postgres://…/<yours> ../node_modules/.bin/node src/workloads/scaleOutProbe.ts
 *   PROBE_N=10000 PROBE_PROCESSES=1,2,4 PROBE_ROUNDS=3 PROBE_SYSTEMS=jobtrack,raw\ pg PROBE_POOL=8
 *   PROBE_WARM=0   jobs each child drains alone (its workers started and stopped) before the timed drain
 *   PROBE_CLAIM=one-read   a prototype claim() with one head read instead of two (see `oneHeadRead`)
 *   PROBE_TRICKLE=0   instead of a backlog, the jobs are enqueued one by one by this many concurrent
 *                     producers while the workers run (300 ms after "go"): each enqueue is a notification
 *   PROBE_TRICKLE_BATCH=1   with PROBE_TRICKLE, each enqueue is a batch of this many jobs (one statement,
 *                     one notification)
 *   PROBE_GAP_MS=0    with PROBE_TRICKLE, each producer waits this long after each enqueue (0: back to back)
 *
 * With PROBE_TRICKLE, enqueue→start latency (p50/p99, ms) is reported per job: from just before
 * the producer's enqueue call (for a batch, the call that enqueued it) to the job's handler
 * starting in whichever child ran it, both read from the machine's monotonic clock
 * (`process.hrtime`, one clock for every process).
 */
import { readFileSync } from "node:fs"
import { loadavg } from "node:os"
import { fileURLToPath, pathToFileURL } from "node:url"
import { Effect, Stream } from "effect"
import type { JobStoreShape } from "@jobtrack/core"
import pg from "pg"
import { systemsByName } from "../systems.ts"
import { cpuMs, median, serveFleetChild, spawnFleet } from "./fleet.ts"

const POOL = Number(process.env.PROBE_POOL ?? 8)
const CONCURRENCY = 10
const APP = "scale_probe"

/** A child's counters (jobtrack: its store's calls as the runner made them). */
interface ChildStats {
  claims: number
  claimed: number
  emptyClaims: number
  /** claims by size: index = jobs returned */
  sizes: Array<number>
  /** claims by size asked */
  asked: Array<number>
  completions: number
  completed: number
  changes: number
  cpuMs: number
  /** CPU and wall time from "go" to the runner started, and to its first job */
  startedCpuMs: number
  startedMs: number
  firstJobCpuMs: number
  firstJobMs: number
  /** CPU from "go" to its 500th job */
  cpuMsAt500: number
  /** context switches (voluntary: it waited; involuntary: it was preempted) from "go" */
  voluntarySwitches: number
  involuntarySwitches: number
  /** each job started: [its payload's i, when (monotonic ms)] */
  starts: Array<[number, number]>
}

/** The machine's monotonic clock in ms: the same clock in every process. */
const monoMs = () => Number(process.hrtime.bigint()) / 1e6

const counters = (): ChildStats => ({
  claims: 0,
  claimed: 0,
  emptyClaims: 0,
  sizes: Array.from({ length: CONCURRENCY + 1 }, () => 0),
  asked: Array.from({ length: CONCURRENCY + 1 }, () => 0),
  completions: 0,
  completed: 0,
  changes: 0,
  cpuMs: 0,
  startedCpuMs: 0,
  startedMs: 0,
  firstJobCpuMs: 0,
  firstJobMs: 0,
  cpuMsAt500: 0,
  voluntarySwitches: 0,
  involuntarySwitches: 0,
  starts: []
})

/** This process's context switches so far, from /proc (zeros elsewhere). */
const switches = (): [number, number] => {
  try {
    const status = readFileSync("/proc/self/status", "utf8")
    const field = (name: string) => Number(/^(\w+):\s+(\d+)$/m.exec(status.split("\n").find((l) => l.startsWith(name)) ?? "")?.[2] ?? 0)
    return [field("voluntary_ctxt_switches"), field("nonvoluntary_ctxt_switches")]
  } catch {
    return [0, 0]
  }
}

const counted = (stats: ChildStats) => (store: JobStoreShape): JobStoreShape => ({
  ...store,
  claim: (request) =>
    Effect.tap(store.claim(request), (jobs) =>
      Effect.sync(() => {
        stats.claims++
        stats.claimed += jobs.length
        if (jobs.length === 0) stats.emptyClaims++
        stats.sizes[Math.min(jobs.length, CONCURRENCY)]!++
        stats.asked[Math.min(request.limit, CONCURRENCY)]!++
      })),
  completeMany: (items) =>
    Effect.tap(store.completeMany(items), () =>
      Effect.sync(() => {
        stats.completions++
        stats.completed += items.length
      })),
  changes: store.changes.pipe(Stream.tap(() => Effect.sync(() => void stats.changes++)))
})

const self = fileURLToPath(import.meta.url)

const child = (name: string, url: string) => {
  const stats = counters()
  let cpu0 = 0
  let t0 = 0
  let switches0: [number, number] = [0, 0]
  const cpu = () => {
    const u = process.cpuUsage()
    return (u.user + u.system) / 1000 - cpu0
  }
  process.on("message", (m) => {
    if (m === "go") {
      cpu0 = 0
      cpu0 = cpu()
      t0 = performance.now()
      switches0 = switches()
    }
    if (m === "stats") {
      stats.cpuMs = cpu()
      const [v, i] = switches()
      stats.voluntarySwitches = v - switches0[0]
      stats.involuntarySwitches = i - switches0[1]
      process.send?.({ stats })
    }
  })
  let jobs = 0
  let system: Awaited<ReturnType<typeof systemsByName[string]>> | undefined
  return serveFleetChild(async () => {
    system = await systemsByName[name]!(url, { attach: true, max: POOL, wrapStore: counted(stats) })
    return {
      start: async (onJob) => {
        // a warm-up starts the workers too: the counters are the last start's (the timed drain's)
        Object.assign(stats, counters())
        jobs = 0
        await system!.startWorkers(CONCURRENCY, (i) => {
          stats.starts.push([i, monoMs()])
          if (++jobs === 1) {
            stats.firstJobCpuMs = cpu()
            stats.firstJobMs = performance.now() - t0
          } else if (jobs === 500) stats.cpuMsAt500 = cpu()
          onJob()
        })
        stats.startedCpuMs = cpu()
        stats.startedMs = performance.now() - t0
      },
      pause: () => system!.stopWorkers(),
      stop: async () => {
        await system!.stopWorkers()
        await system!.close()
      }
    }
  })
}

const childUrl = (url: string) => {
  const u = new URL(url)
  u.searchParams.set("application_name", APP)
  u.searchParams.set("options", "-c track_functions=pl")
  return u.toString()
}

interface DbCounters {
  readonly xacts: number
  /** index entries read by scans of the claim's index, and heap blocks hit/read in the jobs table */
  readonly claimIndexTupRead: number
  readonly claimIndexScans: number
  readonly heapBlocks: number
  readonly indexBlocks: number
  readonly claimCalls: number
  readonly claimMs: number
  readonly completeCalls: number
}

const dbCounters = async (admin: pg.Client): Promise<DbCounters> => {
  await admin.query("select pg_stat_clear_snapshot()")
  const d = await admin.query<{ x: string }>(
    "select xact_commit + xact_rollback as x from pg_stat_database where datname = current_database()"
  )
  const f = await admin.query<{ funcname: string; calls: string; total_time: number }>(
    "select funcname, calls, total_time from pg_stat_user_functions where schemaname = 'bench_jobtrack'"
  )
  const fn = (name: string) => f.rows.find((r) => r.funcname === name)
  const i = await admin.query<{ r: string; s: string }>(
    `select coalesce(sum(idx_tup_read), 0) as r, coalesce(sum(idx_scan), 0) as s from pg_stat_user_indexes
     where indexrelname in ('jobs_claim', 'jobs_pending') and schemaname in ('bench_jobtrack', 'bench_raw')`
  )
  const b = await admin.query<{ h: string; x: string }>(
    `select coalesce(sum(heap_blks_hit + heap_blks_read), 0) as h, coalesce(sum(idx_blks_hit + idx_blks_read), 0) as x
     from pg_statio_user_tables where relname = 'jobs' and schemaname in ('bench_jobtrack', 'bench_raw')`
  )
  return {
    xacts: Number(d.rows[0]!.x),
    claimIndexTupRead: Number(i.rows[0]!.r),
    claimIndexScans: Number(i.rows[0]!.s),
    heapBlocks: Number(b.rows[0]!.h),
    indexBlocks: Number(b.rows[0]!.x),
    claimCalls: Number(fn("claim")?.calls ?? 0),
    claimMs: Number(fn("claim")?.total_time ?? 0),
    completeCalls: Number(fn("complete_many")?.calls ?? 0)
  }
}

/**
 * PROBE_CLAIM=one-read (a prototype, measured, not shipped: `claim()` belongs
 * to the migrations): the claim skips its first head read — "is a limited
 * group among the first jobs?" — when no claimable job of the queue has a
 * limited group at all (one probe of the `jobs_claim_limited` index, empty
 * when nobody uses group limits). Same answer; one read of the queue's head
 * per claim instead of two.
 */
const oneHeadRead = async (admin: pg.Client) => {
  const { rows } = await admin.query<{ def: string }>(
    "select pg_get_functiondef('bench_jobtrack.claim(text[],text[],text,integer,integer,timestamptz)'::regprocedure) as def"
  )
  const def = rows[0]!.def
  const head = /select coalesce\(bool_or\(h\.group_key is not null and h\.group_limit is not null\), false\)[\s\S]*?\) h;/
  const read = head.exec(def)?.[0]
  if (read === undefined) throw new Error("PROBE_CLAIM=one-read: claim()'s head read not found")
  await admin.query(def.replace(read, `if not exists (
              select 1 from "bench_jobtrack".jobs j
              where j.status in ('pending', 'retrying') and j.queue = v_queue
                and j.type = any(p_types) and j.run_at <= p_now
                and j.group_key is not null and j.group_limit is not null
            ) then
              v_limited := false;
            else
              ${read}
            end if;`))
}

const main = async () => {
  const url = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test"
  const n = Number(process.env.PROBE_N ?? 10_000)
  const rounds = Number(process.env.PROBE_ROUNDS ?? 3)
  const sampleMs = Number(process.env.PROBE_SAMPLE_MS ?? 5)
  const warm = Number(process.env.PROBE_WARM ?? 0)
  const trickle = Number(process.env.PROBE_TRICKLE ?? 0)
  const trickleBatch = Number(process.env.PROBE_TRICKLE_BATCH ?? 1)
  const gapMs = Number(process.env.PROBE_GAP_MS ?? 0)
  const processCounts = (process.env.PROBE_PROCESSES ?? "1,2,4").split(",").map(Number)
  const names = (process.env.PROBE_SYSTEMS ?? "jobtrack,raw pg").split(",")
  const admin = new pg.Client({ connectionString: url })
  await admin.connect()
  const sampler = new pg.Client({ connectionString: url })
  await sampler.connect()
  const systems = new Map<string, Awaited<ReturnType<typeof systemsByName[string]>>>()
  for (const name of names) systems.set(name, await systemsByName[name]!(url))
  if (process.env.PROBE_CLAIM === "one-read" && systems.has("jobtrack")) await oneHeadRead(admin)
  const results: Array<Record<string, unknown>> = []
  try {
    for (let round = 1; round <= rounds; round++) {
      for (const processes of processCounts) {
        for (const name of names) {
          const s = systems.get(name)!
          await s.reset()
          const fleet = await spawnFleet(self, ["child", name, childUrl(url)], processes)
          // each child in turn drains `warm` jobs alone: the timed drain starts with warm children
          if (warm > 0) {
            await fleet.warm(warm, async () => {
              for (let i = 0; i < warm; i += 1000) await s.enqueueBatch(i, Math.min(1000, warm - i))
            })
          }
          if (!trickle) for (let i = 0; i < n; i += 1000) await s.enqueueBatch(i, Math.min(1000, n - i))
          await admin.query("checkpoint")
          const load0 = loadavg()[0]!
          const db0 = await dbCounters(admin)
          const pids = async () =>
            (await sampler.query<{ pid: number }>(
              "select pid from pg_stat_activity where application_name = $1",
              [APP]
            )).rows.map((r) => r.pid)
          let stats: Array<ChildStats> = []
          let sampling = true
          const waits = new Map<string, number>()
          let samples = 0
          let active = 0
          const sampleLoop = (async () => {
            while (sampling) {
              const r = await sampler.query<{ state: string; w: string | null }>(
                `select state, coalesce(wait_event_type || ':' || wait_event, 'cpu') as w
                 from pg_stat_activity where application_name = $1 and state = 'active'`,
                [APP]
              )
              samples++
              for (const row of r.rows) {
                active++
                waits.set(row.w!, (waits.get(row.w!) ?? 0) + 1)
              }
              await new Promise((res) => setTimeout(res, sampleMs))
            }
          })()
          let perS = 0, serverMs = 0, childMs = 0
          const enqueuedAt = new Float64Array(n)
          try {
            const server0 = new Map((await pids()).map((p) => [p, cpuMs(p)]))
            const child0 = fleet.children.map((c) => cpuMs(c.pid!))
            const t0 = performance.now()
            fleet.go()
            if (trickle) {
              // the jobs arrive one by one (PROBE_TRICKLE concurrent producers) while the workers run
              await new Promise((r) => setTimeout(r, 300))
              let next = 0
              await Promise.all(Array.from({ length: trickle }, async () => {
                while (next < n) {
                  const from = next
                  const count = Math.min(trickleBatch, n - from)
                  next += count
                  const t = monoMs()
                  for (let i = from; i < from + count; i++) enqueuedAt[i] = t
                  if (count === 1) await s.enqueueOne(from)
                  else await s.enqueueBatch(from, count)
                  if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs))
                }
              }))
            }
            await fleet.startedAtLeast(n)
            const secs = (performance.now() - t0) / 1000
            perS = n / secs
            for (const p of await pids()) serverMs += cpuMs(p) - (server0.get(p) ?? 0)
            childMs = fleet.children.reduce((sum, c, i) => sum + cpuMs(c.pid!) - child0[i]!, 0)
            sampling = false
            await sampleLoop
            // every system's children report their starts (the latency); jobtrack's, its store's counters too
            {
              stats = await Promise.all(fleet.children.map((c) =>
                new Promise<ChildStats>((resolve) => {
                  const on = (m: unknown) => {
                    if (typeof m === "object" && m !== null && "stats" in m) {
                      c.off("message", on)
                      resolve((m as { stats: ChildStats }).stats)
                    }
                  }
                  c.on("message", on)
                  c.send("stats")
                })
              ))
            }
          } finally {
            sampling = false
            await fleet.stop()
          }
          // the backends flush their counters as they exit
          await new Promise((r) => setTimeout(r, 300))
          const db1 = await dbCounters(admin)
          const sum = (f: (s: ChildStats) => number) => stats.reduce((a, s) => a + f(s), 0)
          const latencies = trickle
            ? stats.flatMap((s) => s.starts).map(([i, t]) => t - enqueuedAt[i]!).sort((a, b) => a - b)
            : []
          const pct = (q: number) => latencies.length === 0 ? NaN : Number(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!.toFixed(2))
          const topWaits = [...waits].sort((a, b) => b[1] - a[1]).slice(0, 6)
            .map(([w, c]) => `${w} ${(c / samples).toFixed(2)}`).join(", ")
          const r: Record<string, unknown> = {
            round,
            system: name,
            processes,
            jobsPerS: Math.round(perS),
            ...(trickle ? { latencyP50Ms: pct(0.5), latencyP99Ms: pct(0.99) } : {}),
            ...(name === "jobtrack" ? { emptyClaimsPerJob: Number((sum((s) => s.emptyClaims) / n).toFixed(3)) } : {}),
            childCpuMsPer1000: Number((childMs / n * 1000).toFixed(1)),
            serverCpuMsPer1000: Number((serverMs / n * 1000).toFixed(1)),
            xactsPerJob: Number(((db1.xacts - db0.xacts) / n).toFixed(3)),
            claimIndexEntriesPerScan: Number(((db1.claimIndexTupRead - db0.claimIndexTupRead) / Math.max(1, db1.claimIndexScans - db0.claimIndexScans)).toFixed(1)),
            heapBlocksPerJob: Number(((db1.heapBlocks - db0.heapBlocks) / n).toFixed(2)),
            indexBlocksPerJob: Number(((db1.indexBlocks - db0.indexBlocks) / n).toFixed(2)),
            ...(name === "jobtrack"
              ? {
                claimCallsPerJob: Number(((db1.claimCalls - db0.claimCalls) / n).toFixed(3)),
                claimMsMean: Number(((db1.claimMs - db0.claimMs) / Math.max(1, db1.claimCalls - db0.claimCalls)).toFixed(3)),
                completeCallsPerJob: Number(((db1.completeCalls - db0.completeCalls) / n).toFixed(3)),
                claims: sum((s) => s.claims),
                jobsPerClaim: Number((sum((s) => s.claimed) / Math.max(1, sum((s) => s.claims))).toFixed(2)),
                emptyClaims: sum((s) => s.emptyClaims),
                claimSizes: stats.reduce((a, s) => a.map((x, i) => x + s.sizes[i]!), counters().sizes).join("/"),
                askedSizes: stats.reduce((a, s) => a.map((x, i) => x + s.asked[i]!), counters().asked).join("/"),
                completeWrites: sum((s) => s.completions),
                jobsPerCompleteWrite: Number((sum((s) => s.completed) / Math.max(1, sum((s) => s.completions))).toFixed(1)),
                changesHeard: sum((s) => s.changes),
                childSelfCpuMsPer1000: Number((sum((s) => s.cpuMs) / n * 1000).toFixed(1)),
                startedCpuMs: stats.map((s) => Math.round(s.startedCpuMs)).join("/"),
                startedMs: stats.map((s) => Math.round(s.startedMs)).join("/"),
                firstJobCpuMs: stats.map((s) => Math.round(s.firstJobCpuMs)).join("/"),
                firstJobMs: stats.map((s) => Math.round(s.firstJobMs)).join("/"),
                cpuMsAt500: stats.map((s) => Math.round(s.cpuMsAt500)).join("/"),
                childCpuMs: stats.map((s) => Math.round(s.cpuMs)).join("/"),
                switchesPerJob: Number((sum((s) => s.voluntarySwitches) / n).toFixed(3)),
                preemptionsPerJob: Number((sum((s) => s.involuntarySwitches) / n).toFixed(3))
              }
              : {}),
            activeBackends: Number((active / Math.max(1, samples)).toFixed(2)),
            waits: topWaits,
            load: `${load0.toFixed(2)}→${loadavg()[0]!.toFixed(2)}`
          }
          results.push(r)
          console.log(JSON.stringify(r))
        }
      }
    }
  } finally {
    for (const s of systems.values()) {
      await s.reset()
      await s.close()
    }
    await sampler.end()
    await admin.end()
  }
  console.log("\nmedians:")
  for (const name of names) {
    for (const processes of processCounts) {
      const rs = results.filter((r) => r.system === name && r.processes === processes)
      const m = (k: string) => median(rs.map((r) => Number(r[k])))
      console.log(`${name} ×${processes}: ${m("jobsPerS")} jobs/s${
        trickle ? `, enqueue→start p50 ${m("latencyP50Ms")} p99 ${m("latencyP99Ms")} ms` : ""
      }${name === "jobtrack" ? `, empty claims/job ${m("emptyClaimsPerJob")}` : ""}, child CPU ${m("childCpuMsPer1000")}, server CPU ${
        m("serverCpuMsPer1000")
      } ms/1000 jobs, xacts/job ${m("xactsPerJob")}${
        name === "jobtrack" ? `, claims/job ${m("claimCallsPerJob")}, jobs/claim ${m("jobsPerClaim")}` : ""
      }`)
    }
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  if (process.argv[2] === "child") await child(process.argv[3]!, process.argv[4]!)
  else await main()
}
