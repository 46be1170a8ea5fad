/**
 * What the console's indexes cost the processing path: W3 (drain N no-op
 * jobs, concurrency 10) on four schemas of the same build: "0025" with every
 * migration; "0024" with the console's indexes as migration 0024 left them
 * (0025's `jobs_admin_off_path`, which only retrying, failed and cancelled
 * jobs enter, replaced by 0012's `jobs_admin_status_created`, which every
 * row version entered); "settled" with 0021's index without the running
 * jobs (`where status <> 'processing'`: the claim writes no console index;
 * not adopted, the console would read the running jobs' rows to sort them);
 * "none" without the indexes only the console reads
 * (`jobs_admin_off_path`, `jobs_admin_finished`, 0012's trigram index,
 * 0021's). They take turns, the order rotated every round, so that the
 * machine's noise falls on all; each round prints jobs/s of each drain, the
 * time of the batch inserts before it (N jobs in batches of 1,000), the CPU
 * time of the database's backends per 1,000 jobs during the inserts and
 * during the drain (every backend connected to this database, from
 * `/proc/<pid>/stat`: PostgreSQL on this machine only), the server's WAL per
 * job (others' writes add to it: read the lowest) and the size of the jobs
 * indexes.
 *
 *   DATABASE_URL=postgres://… node bench/src/workloads/adminIndexCost.ts
 *   INDEX_N=10000 INDEX_ROUNDS=6
 *
 * No-op jobs write no error text, so the trigram index (partial: rows with an
 * error message) is not touched on this path.
 */
import pg from "pg"
import { backendsCpuMs, backendsCpuSince } from "../procCpu.ts"
import { jobtrack } from "../systems.ts"
import type { System } from "../systems.ts"

const url = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test"
const N = Number(process.env.INDEX_N ?? 10_000)
const ROUNDS = Number(process.env.INDEX_ROUNDS ?? 6)

const cpuSince = async (admin: pg.Client, before: Map<number, number>) =>
  Math.round(backendsCpuSince(before, await backendsCpuMs(admin)) / (N / 1000))

/** Enqueue N no-op jobs, then drain them: jobs/s, insert time, backends' CPU per 1,000 jobs in each. */
const drain = async (s: System, admin: pg.Client) => {
  await s.reset()
  const c0 = await backendsCpuMs(admin)
  const e0 = performance.now()
  for (let i = 0; i < N; i += 1000) await s.enqueueBatch(i, Math.min(1000, N - i))
  const enqueueMs = performance.now() - e0
  const enqueueCpu = await cpuSince(admin, c0)
  const c1 = await backendsCpuMs(admin)
  let seen = 0
  let done!: () => void
  const all = new Promise<void>((r) => (done = r))
  const start = performance.now()
  await s.startWorkers(10, () => {
    if (++seen === N) done()
  })
  await all
  const secs = (performance.now() - start) / 1000
  const drainCpu = await cpuSince(admin, c1)
  await s.stopWorkers()
  return { perS: N / secs, enqueueMs, enqueueCpu, drainCpu }
}

const main = async () => {
  const admin = new pg.Client({ connectionString: url })
  await admin.connect()
  const variants = {
    "0025": await jobtrack(url, "bench_idx_0025"),
    "0024": await jobtrack(url, "bench_idx_0024"),
    settled: await jobtrack(url, "bench_idx_settled"),
    none: await jobtrack(url, "bench_idx_none")
  }
  await admin.query(`
    drop index bench_idx_0024.jobs_admin_off_path;
    create index jobs_admin_status_created on bench_idx_0024.jobs (status, created_at, id) include (queue, type, owner);
    drop index bench_idx_settled.jobs_admin_queue_type_created;
    create index jobs_admin_queue_type_settled on bench_idx_settled.jobs
      (queue collate "C", type collate "C", status, created_at, id) include (owner) where status <> 'processing';
    drop index bench_idx_none.jobs_admin_queue_type_created;
    drop index bench_idx_none.jobs_admin_off_path;
    drop index bench_idx_none.jobs_admin_finished;
    drop index if exists bench_idx_none.jobs_admin_error_trgm;`)
  const names = Object.keys(variants) as Array<keyof typeof variants>
  const runs = Object.fromEntries(names.map((n) => [n, [] as Array<number>])) as Record<keyof typeof variants, Array<number>>
  for (let round = 1; round <= ROUNDS; round++) {
    const order = names.map((_, i) => names[(i + round) % names.length]!)
    const r: Record<string, number> = {}
    const wal: Record<string, number> = {}
    const enqueueMs: Record<string, number> = {}
    const enqueueCpu: Record<string, number> = {}
    const drainCpu: Record<string, number> = {}
    const indexKb: Record<string, number> = {}
    for (const name of order) {
      await admin.query("checkpoint")
      const lsn = async () => (await admin.query("select pg_current_wal_insert_lsn()::text as l")).rows[0].l as string
      const before = await lsn()
      const d = await drain(variants[name], admin)
      r[name] = Math.round(d.perS)
      enqueueMs[name] = Math.round(d.enqueueMs)
      enqueueCpu[name] = d.enqueueCpu
      drainCpu[name] = d.drainCpu
      // WAL written meanwhile (the whole server's: others' writes add to it) and the size of
      // the jobs indexes after N jobs went through (truncated before each drain)
      const after = await lsn()
      wal[name] = Math.round(Number((await admin.query("select pg_wal_lsn_diff($1, $2) as d", [after, before])).rows[0].d) / N)
      indexKb[name] = Math.round(Number((await admin.query(
        "select sum(pg_relation_size(indexrelid)) as b from pg_index where indrelid = $1::regclass",
        [`bench_idx_${name}.jobs`]
      )).rows[0].b) / 1024)
      runs[name].push(r[name]!)
    }
    console.log(JSON.stringify({
      round,
      n: N,
      order: order.join(","),
      jobs_per_s: r,
      db_cpu_ms_per_1000_drain: drainCpu,
      db_cpu_ms_per_1000_enqueue: enqueueCpu,
      enqueue_ms: enqueueMs,
      wal_bytes_per_job: wal,
      index_kb: indexKb
    }))
  }
  const median = (xs: Array<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
  console.log(JSON.stringify({ median: Object.fromEntries(names.map((n) => [n, Math.round(median(runs[n]))])) }))
  for (const s of Object.values(variants)) await s.close()
  await admin.query("drop schema bench_idx_0025 cascade; drop schema bench_idx_0024 cascade; drop schema bench_idx_settled cascade; drop schema bench_idx_none cascade")
  await admin.end()
}

await main()
