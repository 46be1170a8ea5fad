/**
 * Batch enqueue only (the "enqueue in batches of 1,000" row of `main.ts`), for
 * every system, the systems taking turns in every round (order rotated), so
 * that a shared machine's noise falls on all of them. Each round resets every
 * system, checkpoints, then times `BATCH_N` jobs as batches of 1,000 and
 * prints jobs/s and the server's WAL bytes per job (others' writes add to it).
 * At the end: the median of each system's rounds and the median of the
 * per-round ratios of jobtrack to each peer.
 *
 *   cd bench && DATABASE_URL=postgres://… ../node_modules/.bin/node src/workloads/batchEnqueue.ts
 *   BATCH_N=10000 BATCH_ROUNDS=8 BATCH_SYSTEMS=jobtrack,graphile-worker
 */
import pg from "pg"
import { graphileWorker, jobtrack, pgBoss, rawPg } from "../systems.ts"
import type { System } from "../systems.ts"

const url = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test"
const N = Number(process.env.BATCH_N ?? 10_000)
const ROUNDS = Number(process.env.BATCH_ROUNDS ?? 8)
const only = process.env.BATCH_SYSTEMS?.split(",")

const median = (xs: Array<number>) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}

const main = async () => {
  const admin = new pg.Client({ connectionString: url })
  await admin.connect()
  const systems: Array<System> = []
  for (const make of [jobtrack, pgBoss, graphileWorker, rawPg]) {
    const s = await make(url)
    if (only && !only.includes(s.name)) await s.close()
    else systems.push(s)
  }
  const perS = new Map<string, Array<number>>(systems.map((s) => [s.name, []]))
  const ratios = new Map<string, Array<number>>()
  const lsn = async () => (await admin.query("select pg_current_wal_insert_lsn()::text as l")).rows[0].l as string
  for (let round = 1; round <= ROUNDS; round++) {
    const order = systems.map((_, i) => systems[(i + round) % systems.length]!)
    const r: Record<string, number> = {}
    const wal: Record<string, number> = {}
    for (const s of order) {
      await s.reset()
      await admin.query("checkpoint")
      const before = await lsn()
      const t0 = performance.now()
      for (let i = 0; i < N; i += 1000) await s.enqueueBatch(i, Math.min(1000, N - i))
      const secs = (performance.now() - t0) / 1000
      const after = await lsn()
      r[s.name] = Math.round(N / secs)
      wal[s.name] = Math.round(Number((await admin.query("select pg_wal_lsn_diff($1, $2) as d", [after, before])).rows[0].d) / N)
      perS.get(s.name)!.push(N / secs)
    }
    for (const s of systems) {
      if (s.name === "jobtrack" || r.jobtrack === undefined) continue
      const k = `jobtrack/${s.name}`
      ratios.set(k, [...(ratios.get(k) ?? []), r.jobtrack / r[s.name]!])
    }
    console.log(JSON.stringify({ round, n: N, order: order.map((s) => s.name).join(","), jobs_per_s: r, wal_bytes_per_job: wal }))
  }
  console.log(JSON.stringify({
    median_jobs_per_s: Object.fromEntries([...perS].map(([n, xs]) => [n, Math.round(median(xs))])),
    median_ratio: Object.fromEntries([...ratios].map(([k, xs]) => [k, Number(median(xs).toFixed(2))])),
    ratio_range: Object.fromEntries([...ratios].map(([k, xs]) => [k, [Math.min(...xs), Math.max(...xs)].map((x) => Number(x.toFixed(2)))]))
  }))
  for (const s of systems) {
    await s.reset()
    await s.close()
  }
  await admin.end()
  process.exit(0)
}

await main()
