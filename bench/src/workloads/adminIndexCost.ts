/**
 * What the console's indexes cost the processing path: W3 (drain N no-op
 * jobs, concurrency 10) on three schemas of the same build: "all" with every
 * migration; "0018" with the console's indexes as migration 0018 left them
 * (0021's `jobs_admin_queue_type_created` replaced by 0018's
 * `jobs_admin_type_created` and `jobs_admin_queue_created`);
 * "none" without the indexes only the console reads (`jobs_admin_status_created`,
 * `jobs_admin_finished`, 0012's trigram index, 0021's). They take turns, the order
 * rotated every round, so that the machine's noise falls on all; each round
 * prints jobs/s of each drain, the time of the batch inserts before it
 * (N jobs in batches of 1,000), WAL per job and the size of the jobs indexes.
 *
 *   DATABASE_URL=postgres://… node bench/src/workloads/adminIndexCost.ts
 *   INDEX_N=10000 INDEX_ROUNDS=6
 *
 * No-op jobs write no error text, so the trigram index (partial: rows with an
 * error message) is not touched on this path.
 */
import pg from "pg"
import { drainNoOp, jobtrack } from "../systems.ts"
import type { System } from "../systems.ts"

const url = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test"
const N = Number(process.env.INDEX_N ?? 10_000)
const ROUNDS = Number(process.env.INDEX_ROUNDS ?? 6)

const drain = (s: System) => drainNoOp(s, N)

const main = async () => {
  const admin = new pg.Client({ connectionString: url })
  await admin.connect()
  const variants = {
    all: await jobtrack(url, "bench_idx_all"),
    "0018": await jobtrack(url, "bench_idx_0018"),
    none: await jobtrack(url, "bench_idx_none")
  }
  await admin.query(`
    drop index bench_idx_0018.jobs_admin_queue_type_created;
    create index jobs_admin_type_created on bench_idx_0018.jobs (type, status, created_at, id) include (queue, owner);
    create index jobs_admin_queue_created on bench_idx_0018.jobs (queue, status, created_at, id) include (type, owner);
    drop index bench_idx_none.jobs_admin_queue_type_created;
    drop index bench_idx_none.jobs_admin_status_created;
    drop index bench_idx_none.jobs_admin_finished;
    drop index if exists bench_idx_none.jobs_admin_error_trgm;`)
  const names = Object.keys(variants) as Array<keyof typeof variants>
  const runs = Object.fromEntries(names.map((n) => [n, [] as Array<number>])) as Record<keyof typeof variants, Array<number>>
  for (let round = 1; round <= ROUNDS; round++) {
    const order = names.map((_, i) => names[(i + round) % names.length]!)
    const r: Record<string, number> = {}
    const wal: Record<string, number> = {}
    const enqueueMs: Record<string, number> = {}
    const indexKb: Record<string, number> = {}
    for (const name of order) {
      await admin.query("checkpoint")
      const lsn = async () => (await admin.query("select pg_current_wal_insert_lsn()::text as l")).rows[0].l as string
      const before = await lsn()
      const d = await drain(variants[name])
      r[name] = Math.round(d.perS)
      enqueueMs[name] = Math.round(d.enqueueMs)
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
    console.log(JSON.stringify({ round, n: N, order: order.join(","), jobs_per_s: r, enqueue_ms: enqueueMs, wal_bytes_per_job: wal, index_kb: indexKb }))
  }
  const median = (xs: Array<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
  console.log(JSON.stringify({ median: Object.fromEntries(names.map((n) => [n, Math.round(median(runs[n]))])) }))
  for (const s of Object.values(variants)) await s.close()
  await admin.query("drop schema bench_idx_all cascade; drop schema bench_idx_0018 cascade; drop schema bench_idx_none cascade")
  await admin.end()
}

await main()
