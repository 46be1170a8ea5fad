/**
 * The peers' throughput settings, measured (session 5): W2 — drain a backlog
 * of no-op jobs with 10 in flight — for each way a peer can be configured to
 * have 10 jobs in flight, in interleaved rounds (the order rotating), so that
 * `systems.ts` runs each peer at its best.
 *
 * - pg-boss: `work()` with `localConcurrency` workers × `batchSize` jobs
 *   (`burstWhenBatchFull`): 1 × 10, 2 × 5, 5 × 2. (With batches of 1 a worker
 *   waits its polling interval after each job.) Through a `db` adapter that
 *   times pg-boss's statements: fetches and completions, their count and
 *   mean round trip.
 * - graphile-worker: `run()` with concurrency 10, without and with its
 *   `localQueue` batching (sizes 11 and 20).
 *
 *   DATABASE_URL=postgres://…/<yours> ../node_modules/.bin/node src/workloads/peerConfigs.ts   (from bench/)
 *   PEER_CONFIGS_N=5000 PEER_CONFIGS_ROUNDS=3 PEER_CONFIGS_SYSTEMS=pg-boss,graphile-worker
 */
import { Logger, makeWorkerUtils, run } from "graphile-worker"
import pg from "pg"
import { PgBoss } from "pg-boss"
import { median } from "./fleet.ts"

const url = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test"
const N = Number(process.env.PEER_CONFIGS_N ?? 5000)
const ROUNDS = Number(process.env.PEER_CONFIGS_ROUNDS ?? 3)
const SYSTEMS = (process.env.PEER_CONFIGS_SYSTEMS ?? "pg-boss,graphile-worker").split(",")

/** One configuration: set up, drain `n` jobs (jobs/s to the last job's start), and what it saw. */
interface Variant {
  readonly name: string
  readonly drain: () => Promise<{ readonly perS: number; readonly detail?: Record<string, number> }>
}

const rotate = <A>(xs: ReadonlyArray<A>, k: number): Array<A> => [...xs.slice(k % xs.length), ...xs.slice(0, k % xs.length)]

/** Resolves when `count()` has been called `n` times. */
const counter = (n: number) => {
  let seen = 0
  let done!: () => void
  const all = new Promise<void>((r) => (done = r))
  return { all, count: (k = 1) => ((seen += k) >= n ? done() : undefined) }
}

const pgBossVariants = async (admin: pg.Pool, closers: Array<() => Promise<void>>): Promise<Array<Variant>> => {
  const schema = "bench_peer_pgboss"
  await admin.query(`drop schema if exists ${schema} cascade`)
  const pool = new pg.Pool({ connectionString: url, max: 12 })
  const stats = new Map<string, { n: number; ms: number }>()
  const kind = (text: string) => (/SKIP LOCKED/i.test(text) ? "fetch" : /state = 'completed'/i.test(text) ? "complete" : "other")
  const db = {
    executeSql: async (text: string, values?: Array<unknown>) => {
      const t0 = performance.now()
      const r = await pool.query(text, values)
      const s = stats.get(kind(text)) ?? { n: 0, ms: 0 }
      s.n++
      s.ms += performance.now() - t0
      stats.set(kind(text), s)
      return r
    }
  }
  const boss = new PgBoss({ db, schema, supervise: false, schedule: false, useListenNotify: true, connectionString: url } as never)
  boss.on("error", () => {})
  await boss.start()
  await boss.createQueue("noop", { notify: true, retryLimit: 0 } as never)
  closers.push(async () => {
    await boss.stop({ graceful: false, close: true } as never)
    await pool.end()
    await admin.query(`drop schema if exists ${schema} cascade`)
  })
  const shapes = [[1, 10], [2, 5], [5, 2]] as const
  return shapes.map(([workers, batch]) => ({
    name: `pg-boss ${workers} × batchSize ${batch}`,
    drain: async () => {
      await admin.query(`truncate ${schema}.job`)
      await admin.query(`vacuum analyze ${schema}.job`)
      for (let i = 0; i < N; i += 1000) {
        await boss.insert("noop", Array.from({ length: Math.min(1000, N - i) }, (_, k) => ({ data: { i: i + k } })))
      }
      await admin.query("checkpoint")
      stats.clear()
      const c = counter(N)
      const t0 = performance.now()
      const id = await boss.work(
        "noop",
        { localConcurrency: workers, batchSize: batch, burstWhenBatchFull: true, pollingIntervalSeconds: 1, notifyPollingIntervalSeconds: 1 } as never,
        (async (jobs: Array<unknown>) => c.count(jobs.length)) as never
      )
      await c.all
      const perS = N / ((performance.now() - t0) / 1000)
      await boss.offWork("noop", { id } as never)
      const f = stats.get("fetch")
      const d = stats.get("complete")
      return {
        perS,
        detail: {
          fetches: f?.n ?? 0,
          fetch_ms: Number(((f?.ms ?? 0) / (f?.n ?? 1)).toFixed(2)),
          completions: d?.n ?? 0,
          complete_ms: Number(((d?.ms ?? 0) / (d?.n ?? 1)).toFixed(2))
        }
      }
    }
  }))
}

const graphileVariants = async (admin: pg.Pool, closers: Array<() => Promise<void>>): Promise<Array<Variant>> => {
  const schema = "bench_peer_graphile"
  await admin.query(`drop schema if exists ${schema} cascade`)
  const pgPool = new pg.Pool({ connectionString: url, max: 12 })
  pgPool.on("error", () => {})
  const logger = new Logger(() => () => {})
  const utils = await makeWorkerUtils({ pgPool, schema, logger })
  await utils.migrate()
  closers.push(async () => {
    await utils.release()
    await pgPool.end()
    await admin.query(`drop schema if exists ${schema} cascade`)
  })
  return [undefined, 11, 20].map((size) => ({
    name: size === undefined ? "graphile-worker, no localQueue" : `graphile-worker, localQueue ${size}`,
    drain: async () => {
      await admin.query(`truncate ${schema}._private_jobs`)
      await admin.query(`vacuum analyze ${schema}._private_jobs`)
      for (let i = 0; i < N; i += 1000) {
        await utils.addJobs(Array.from({ length: Math.min(1000, N - i) }, (_, k) => ({ identifier: "noop", payload: { i: i + k } })))
      }
      await admin.query("checkpoint")
      const c = counter(N)
      const t0 = performance.now()
      const runner = await run({
        pgPool,
        schema,
        concurrency: 10,
        noHandleSignals: true,
        pollInterval: 1000,
        logger,
        ...(size === undefined ? {} : { preset: { worker: { localQueue: { size } } } }),
        taskList: { noop: async () => c.count() }
      })
      await c.all
      const perS = N / ((performance.now() - t0) / 1000)
      await runner.stop()
      return { perS }
    }
  }))
}

const main = async () => {
  const admin = new pg.Pool({ connectionString: url, max: 2 })
  const closers: Array<() => Promise<void>> = []
  const variants = [
    ...(SYSTEMS.includes("pg-boss") ? await pgBossVariants(admin, closers) : []),
    ...(SYSTEMS.includes("graphile-worker") ? await graphileVariants(admin, closers) : [])
  ]
  const perS = new Map<string, Array<number>>(variants.map((v) => [v.name, []]))
  for (let round = 0; round < ROUNDS; round++) {
    for (const v of rotate(variants, round)) {
      const r = await v.drain()
      perS.get(v.name)!.push(r.perS)
      console.log(JSON.stringify({ round: round + 1, variant: v.name, jobs_per_s: Math.round(r.perS), ...r.detail }))
    }
  }
  console.log(`\nN=${N}, ${ROUNDS} rounds`)
  for (const [name, xs] of perS) {
    console.log(`${name}: median ${Math.round(median(xs)).toLocaleString("en")} jobs/s (rounds ${xs.map((x) => Math.round(x)).join(", ")})`)
  }
  for (const close of closers) await close()
  await admin.end()
}

await main()
