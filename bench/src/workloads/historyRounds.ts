/**
 * History in alternating rounds (issue 13, item 1): jobtrack's W2 — drain a
 * backlog of N no-op jobs, concurrency 10 — with 0, 1,000,000 (…) finished
 * jobs in the table, the sizes taking turns (A, B, A, B, …) so that the shared
 * machine's noise falls on every size alike. Each size has its own schema
 * (`bench_hist_<size>`), loaded once with history.ts's loader after an
 * ANALYZE of the empty table (the statistics never see the history or the
 * backlog, and nothing analyzes later); the size 0 schema is emptied before
 * each of its rounds, the others keep their history (each drain adds N).
 *
 * Per round: jobs/s, server CPU per job (every backend of the database, from
 * /proc: the machine's noise slows a drain down but adds little CPU to it),
 * the database's buffer accesses per job (`pg_stat_database`, hits and reads:
 * independent of the noise; the drain waits 11 s before and after so that
 * every backend has flushed its counters) and the worker's CPU per job; at the
 * end, the medians and their ratio to size 0.
 *
 *   node src/workloads/historyRounds.ts
 *   HISTORY_SIZES=0,1000000,10000000 HISTORY_ROUNDS=5 node src/workloads/historyRounds.ts
 *   HISTORY_KEEP=1 …   keep the loaded schemas for the next run (a 10,000,000 load takes minutes)
 *   HISTORY_VACUUM=1 … a plain VACUUM (no ANALYZE) of every size's table before each drain: what
 *                      autovacuum does between drains with migration 0009's churn-based threshold
 *                      (20,000 dead rows; one drain leaves 20,000), on a server where it is off.
 *                      The default when the server runs without autovacuum (as the bench machine
 *                      does): without it nothing ever removes the dead index entries of earlier
 *                      drains from the tables with history, while the empty table is truncated
 *                      before each of its drains. HISTORY_VACUUM=0: no VACUUM at all
 *   HISTORY_VACUUM=index … the same with `index_cleanup on`: the index passes too, which a vacuum
 *                      skips while fewer than 2 % of the table's pages have dead rows
 *   HISTORY_RELOPTIONS="vacuum_index_cleanup = on" … storage parameters set on every size's table
 *                      before the rounds (`alter table … set (…)`), e.g. to compare a table setting
 *                      with HISTORY_VACUUM=1 (a plain VACUUM follows the table's setting)
 *
 * Each round prints every size's ratio to the same round's empty table (jobs/s and buffers per
 * job), the time of the VACUUM before the drain and whether it cleaned the indexes; the summary
 * gives the medians and the worst round.
 *
 * Run from bench/ after `pnpm run build`, one workload at a time, against a
 * database of your own (it uses all of the database's backends for its CPU figure).
 */
import { Effect, Exit, Schema, Scope } from "effect"
import { JobDefinition, JobStore, RetryPolicy, Runner, Tracker } from "@jobtrack/core"
import type { JobStoreShape } from "@jobtrack/core"
import { postgres } from "@jobtrack/adapter-kysely"
import pg from "pg"
import { cpuMs } from "../procCpu.ts"
import { loadFinishedJobtrack } from "./history.ts"

const url = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test"
const N = Number(process.env.BENCH_N ?? 10_000)
const SIZES = (process.env.HISTORY_SIZES ?? "0,1000000").split(",").map((x) => Number(x.trim()))
const ROUNDS = Number(process.env.HISTORY_ROUNDS ?? 3)
const KEEP = process.env.HISTORY_KEEP === "1"
const INDEX_CLEANUP = process.env.HISTORY_VACUUM === "index"
const RELOPTIONS = process.env.HISTORY_RELOPTIONS

const schemaOf = (size: number) => `bench_hist_${size}`

let onStart = () => {}
const noop = JobDefinition.make({
  type: "noop",
  payload: Schema.Struct({ i: Schema.Int }),
  retry: RetryPolicy.none,
  handler: () => Effect.sync(() => onStart())
})

const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect)

const median = (xs: ReadonlyArray<number>) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}

interface Round {
  readonly jobsPerSecond: number
  readonly serverUs: number
  readonly buffers: number
  readonly workerUs: number
  readonly vacuumMs: number
  readonly vacuumIndexes: string
}

const main = async () => {
  const admin = new pg.Pool({ connectionString: url, max: 1 })
  const autovacuum = (await admin.query<{ autovacuum: string }>("show autovacuum")).rows[0]!.autovacuum
  const VACUUM = process.env.HISTORY_VACUUM === undefined
    ? autovacuum === "off"
    : process.env.HISTORY_VACUUM === "1" || process.env.HISTORY_VACUUM === "index"
  console.log(
    `autovacuum ${autovacuum}: ${VACUUM ? `a ${INDEX_CLEANUP ? "VACUUM (index_cleanup on)" : "plain VACUUM"} of each table before each drain` : "no VACUUM between drains"}`
  )
  // the VACUUM's report: did it clean the indexes or bypass them
  let notices: Array<string> = []
  admin.on("connect", (client) => {
    client.on("notice", (n) => notices.push(n.message ?? ""))
  })
  const backends = async () =>
    (await admin.query<{ pid: number }>(
      `select pid from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()`
    )).rows.map((r) => r.pid)

  /** The store of one size's schema, for one drain. */
  const withStore = async <A>(size: number, f: (store: JobStoreShape) => Promise<A>) => {
    const scope = Effect.runSync(Scope.make())
    try {
      const store = await run(Scope.provide(postgres({ connectionString: url, schema: schemaOf(size), max: 12 }), scope))
      return await f(store)
    } finally {
      await run(Scope.close(scope, Exit.void))
    }
  }

  for (const size of SIZES) {
    const table = `${schemaOf(size)}.jobs`
    const loaded = await admin.query<{ n: string }>(
      `select case when to_regclass($1) is null then -1 else (select count(*) from ${schemaOf(size)}.jobs where status = 'completed') end as n`,
      [table]
    ).catch(() => ({ rows: [{ n: "-1" }] }))
    if (KEEP && Number(loaded.rows[0]!.n) >= size) {
      console.log(`${size.toLocaleString("en")}: kept from an earlier run (${Number(loaded.rows[0]!.n).toLocaleString("en")} finished)`)
      continue
    }
    await admin.query(`drop schema if exists ${schemaOf(size)} cascade`)
    await withStore(size, async () => {})
    await admin.query(`vacuum analyze ${table}`)
    const t0 = performance.now()
    for (let from = 1; from <= size; from += 1_000_000) {
      await loadFinishedJobtrack(admin, table, from, Math.min(1_000_000, size - from + 1))
    }
    console.log(`${size.toLocaleString("en")}: loaded in ${((performance.now() - t0) / 1000).toFixed(0)} s`)
  }

  if (RELOPTIONS) {
    for (const size of SIZES) await admin.query(`alter table ${schemaOf(size)}.jobs set (${RELOPTIONS})`)
  }
  for (const size of SIZES) {
    const r = await admin.query<{ reloptions: Array<string> | null }>(
      `select reloptions from pg_class where oid = $1::regclass`, [`${schemaOf(size)}.jobs`]
    )
    console.log(`${size.toLocaleString("en")}: ${(r.rows[0]?.reloptions ?? []).join(", ")}`)
  }

  const rounds = new Map<number, Array<Round>>(SIZES.map((s) => [s, []]))
  for (let round = 1; round <= ROUNDS; round++) {
    for (const size of SIZES) {
      if (size === 0) await admin.query(`truncate ${schemaOf(0)}.jobs cascade`)
      let vacuumMs = 0
      let vacuumIndexes = "-"
      if (VACUUM) {
        notices = []
        const v0 = performance.now()
        await admin.query(`vacuum (verbose${INDEX_CLEANUP ? ", index_cleanup on" : ""}) ${schemaOf(size)}.jobs`)
        vacuumMs = performance.now() - v0
        const text = notices.join("\n")
        const pass = /index scan (?:bypassed|not needed|needed): \d+ pages from table \([\d.]+% of total\)/.exec(text)
        const scans = /index scans: (\d+)/.exec(text)
        vacuumIndexes = `${scans ? `index scans: ${scans[1]}` : "?"}${pass ? ` (${pass[0]})` : ""}`
      }
      // every drain starts after a checkpoint, so none inherits another's WAL and dirty pages
      await admin.query("checkpoint")
      const result = await withStore(size, async (store) => {
        const tracker = await run(Tracker.make({ definitions: [noop] }).pipe(Effect.provideService(JobStore, store)))
        for (let i = 0; i < N; i += 1000) {
          const count = Math.min(1000, N - i)
          await run(tracker.enqueueMany(noop, Array.from({ length: count }, (_, k) => ({ payload: { i: i + k } }))))
        }
        let seen = 0
        let done!: () => void
        const all = new Promise<void>((r) => (done = r))
        onStart = () => {
          if (++seen === N) done()
        }
        // backends flush their counters when idle, at most every 10 s
        const flushed = () => new Promise((r) => setTimeout(r, 11_000))
        const buffers = async () =>
          Number((await admin.query<{ n: string }>(
            `select blks_hit + blks_read as n from pg_stat_database where datname = current_database()`
          )).rows[0]!.n)
        await flushed()
        const buffers0 = await buffers()
        const before = new Map((await backends()).map((p) => [p, cpuMs(p)]))
        const worker0 = process.cpuUsage()
        const start = performance.now()
        const runnerScope = Effect.runSync(Scope.make())
        await run(Scope.provide(
          Runner.make({ definitions: [noop], concurrency: 10, pollInterval: "1 second", prune: false })
            .pipe(Effect.provideService(JobStore, store)),
          runnerScope
        ))
        await all
        const secs = (performance.now() - start) / 1000
        const worker = process.cpuUsage(worker0)
        let server = 0
        for (const p of await backends()) server += cpuMs(p) - (before.get(p) ?? 0)
        await run(Scope.close(runnerScope, Exit.void))
        await flushed()
        return {
          jobsPerSecond: N / secs,
          serverUs: (server * 1000) / N,
          buffers: (await buffers() - buffers0) / N,
          workerUs: (worker.user + worker.system) / N,
          vacuumMs,
          vacuumIndexes
        }
      })
      rounds.get(size)!.push(result)
      const base0 = rounds.get(SIZES[0]!)![round - 1]!
      console.log(
        `round ${round} ${size.toLocaleString("en").padStart(10)}: ${Math.round(result.jobsPerSecond).toLocaleString("en")} jobs/s ` +
          `(${(result.jobsPerSecond / base0.jobsPerSecond).toFixed(2)}×), ` +
          `server ${result.serverUs.toFixed(0)} µs/job, ${result.buffers.toFixed(1)} buffers/job ` +
          `(${(result.buffers / base0.buffers).toFixed(2)}×), worker ${result.workerUs.toFixed(0)} µs/job` +
          (VACUUM ? `; vacuum before: ${(result.vacuumMs / 1000).toFixed(1)} s, ${result.vacuumIndexes}` : "")
      )
    }
  }

  const base = rounds.get(SIZES[0]!)!
  if (ROUNDS > 0) console.log(`\nmedians of ${ROUNDS} rounds (N=${N.toLocaleString("en")}; ratio to ${SIZES[0]!.toLocaleString("en")} finished)`)
  for (const size of ROUNDS > 0 ? SIZES : []) {
    const r = rounds.get(size)!
    const jps = median(r.map((x) => x.jobsPerSecond))
    const srv = median(r.map((x) => x.serverUs))
    const wrk = median(r.map((x) => x.workerUs))
    const buf = median(r.map((x) => x.buffers))
    console.log(
      `${size.toLocaleString("en").padStart(10)} finished: ${Math.round(jps).toLocaleString("en")} jobs/s ` +
        `(${(jps / median(base.map((x) => x.jobsPerSecond))).toFixed(2)}×), server ${srv.toFixed(0)} µs/job ` +
        `(${(srv / median(base.map((x) => x.serverUs))).toFixed(2)}×), ${buf.toFixed(1)} buffers/job ` +
        `(${(buf / median(base.map((x) => x.buffers))).toFixed(2)}×), worker ${wrk.toFixed(0)} µs/job`
    )
  }
  // the worst round: each round against the same round's empty table
  for (const size of ROUNDS > 0 ? SIZES.slice(1) : []) {
    const r = rounds.get(size)!
    const jps = r.map((x, i) => x.jobsPerSecond / base[i]!.jobsPerSecond)
    const buf = r.map((x, i) => x.buffers / base[i]!.buffers)
    console.log(
      `${size.toLocaleString("en").padStart(10)} finished, by round: jobs/s ${jps.map((x) => x.toFixed(2)).join(", ")} ` +
        `(worst ${Math.min(...jps).toFixed(2)}×); buffers/job ${buf.map((x) => x.toFixed(2)).join(", ")} (worst ${Math.max(...buf).toFixed(2)}×)`
    )
  }
  if (!KEEP) for (const size of SIZES) await admin.query(`drop schema if exists ${schemaOf(size)} cascade`)
  await admin.end()
}

await main()
