/**
 * The operator console against a large jobs table on PostgreSQL: every
 * console API call (the framework-agnostic handlers the Koa router calls,
 * so JSON shaping included, HTTP excluded), each repeated, p50/p95 in ms;
 * then a bulk cancel by filter over the pending jobs, chunk by chunk as the
 * bulk job runs it, in jobs per second.
 *
 * The table is filled by one INSERT … SELECT from generate_series (not
 * through the tracker: this measures reads, not enqueue): 70 % completed,
 * 15 % failed (with error messages), 5 % cancelled, 8 % pending, 2 %
 * processing; 5 types, 3 queues, 1,000 owners; created over the last day.
 *
 *   DATABASE_URL=postgres://… CONSOLE_N=1000000 node bench/src/workloads/console.ts
 *
 * Check it at small N (CONSOLE_N=20000); the full run is the lead's.
 *
 * To compare builds on one table without refilling it: `CONSOLE_SCHEMA=name`
 * fills that schema only if it is not there yet and keeps it afterwards, and
 * `CONSOLE_BULK=0` skips the bulk cancel (which would change the table).
 * `CONSOLE_RESET_SUMMARY=1` empties the chart summary first (the first chart
 * read after an upgrade, on a kept table).
 * `CONSOLE_CALLS=overview,series day` measures only the calls named.
 */
import { Effect, Scope } from "effect"
import type { AdminStore } from "@jobtrack/core"
import { postgres } from "@jobtrack/adapter-kysely"
import { migrate } from "@jobtrack/adapter-kysely"
import { ConsoleApi, ConsoleInput } from "@jobtrack/adapter-koa"
import { Kysely, PostgresDialect, sql } from "kysely"
import pg from "pg"

const url = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test"
const N = Number(process.env.CONSOLE_N ?? 1_000_000)
const REPEAT = Number(process.env.CONSOLE_REPEAT ?? 30)
const kept = process.env.CONSOLE_SCHEMA
const schema = kept ?? `bench_console_${Math.random().toString(36).slice(2, 8)}`
const bulk = process.env.CONSOLE_BULK !== "0"
const only = process.env.CONSOLE_CALLS?.split(",").map((c) => c.trim())

const pct = (sorted: Array<number>, p: number) => sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!

const fill = async (db: Kysely<unknown>, jobs: ReturnType<typeof sql.id>) => {
  // in slices, so that one statement does not hold millions of rows in memory
  const slice = 200_000
  for (let from = 1; from <= N; from += slice) {
    const to = Math.min(N, from + slice - 1)
    await sql`
      insert into ${jobs} (id, type, queue, payload, status, error_message, attempts, max_attempts, priority, run_at,
        owner, created_at, started_at, completed_at, updated_at, progress)
      select gen_random_uuid(),
        case when i % 5000 = 0 then 'type-rare' when i % 100 = 75 then 'type-mid' else 'type-' || (i % 5) end,
        case when i % 5000 = 2500 then 'queue-rare' else 'queue-' || (i % 3) end, jsonb_build_object('i', i),
        s.status,
        case when s.status = 'failed' then 'upstream timeout after ' || (i % 97) || ' s' end,
        case when s.status = 'pending' then 0 else 1 end, 3, 0, c.created,
        'owner-' || (i % 1000), c.created,
        case when s.status in ('completed', 'failed', 'processing') then c.created + interval '2 seconds' end,
        case when s.status in ('completed', 'failed', 'cancelled') then c.created + interval '2 seconds' + (i % 5000) * interval '1 millisecond' end,
        c.created, case when s.status = 'completed' then 100 else 0 end
      from generate_series(${from}::int, ${to}::int) as i,
        lateral (select now() - (i::float8 / ${N}) * interval '1 day' as created) c,
        lateral (select case
          when i % 100 < 70 then 'completed' when i % 100 < 85 then 'failed' when i % 100 < 90 then 'cancelled'
          when i % 100 < 98 then 'pending' else 'processing' end as status) s`.execute(db)
  }
  // as autovacuum leaves a table: statistics, visibility map and hint bits set
  await sql.raw(`vacuum (analyze) "${schema}".jobs`).execute(db)
}

const main = async () => {
  const pool = new pg.Pool({ connectionString: url, max: 4 })
  const db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool }) })
  const exists = kept !== undefined &&
    (await sql<{ n: number }>`select count(*)::int as n from pg_namespace where nspname = ${schema}`.execute(db)).rows[0]!.n > 0
  await migrate(db, { schema })
  const t0 = performance.now()
  const jobs = sql.id(schema, "jobs")
  if (!exists) await fill(db, jobs)
  if (process.env.CONSOLE_RESET_SUMMARY === "1") {
    await sql`truncate ${sql.id(schema, "series_rollup")}, ${sql.id(schema, "series_rolled")}`.execute(db)
  }
  console.log(JSON.stringify({ workload: "console", n: N, schema, fill_s: exists ? null : Math.round((performance.now() - t0) / 100) / 10 }))

  const scope = Effect.runSync(Scope.make())
  const store = await Effect.runPromise(Scope.provide(postgres({ connectionString: url, schema, max: 8 }), scope))
  const api = ConsoleApi.make(store)
  const op = { actor: "bench", actions: ConsoleInput.allActions }
  const sample = (await api.list({ status: "failed", limit: "60" }, op)).body as { items: Array<{ id: string }> }
  const someId = sample.items[0]!.id
  const page1 = (await api.list({ limit: "50" }, op)).body as { next_cursor: string }

  const calls: Array<[string, () => Promise<{ status: number }>]> = [
    ["overview", () => api.overview({}, op)],
    ["overview queue-1", () => api.overview({ queue: "queue-1" }, op)],
    ["series hour", () => api.series({ range: "hour" }, op)],
    ["series day", () => api.series({ range: "day" }, op)],
    ["list newest", () => api.list({ limit: "50" }, op)],
    ["list page 2", () => api.list({ limit: "50", cursor: page1.next_cursor }, op)],
    ["list failed + error text", () => api.list({ status: "failed", error: "after 42 s", limit: "50" }, op)],
    ["list owner", () => api.list({ owner: "owner-7", limit: "50" }, op)],
    ["list type with no match", () => api.list({ type: "no-such-type", limit: "50" }, op)],
    ["list rare type", () => api.list({ type: "type-rare", limit: "50" }, op)],
    ["list rare type failed", () => api.list({ type: "type-rare", status: "failed", limit: "50" }, op)],
    ["list queue with no match", () => api.list({ queue: "no-such-queue", limit: "50" }, op)],
    ["list rare queue", () => api.list({ queue: "queue-rare", limit: "50" }, op)],
    ["list rare queue + owner", () => api.list({ queue: "queue-rare", owner: "owner-500", limit: "50" }, op)],
    ["list rare type created range", () => api.list({ type: "type-rare", created_from: new Date(Date.now() - 3_600_000).toISOString(), limit: "50" }, op)],
    ["overview rare type", () => api.overview({ type: "type-rare" }, op)],
    ["list mid type", () => api.list({ type: "type-mid", limit: "50" }, op)],
    ["list mid type completed", () => api.list({ type: "type-mid", status: "completed", limit: "50" }, op)],
    ["overview mid type", () => api.overview({ type: "type-mid" }, op)],
    ["list type+queue oldest first", () => api.list({ type: "type-2", queue: "queue-1", order: "asc", limit: "50" }, op)],
    ["list finished newest", () => api.list({ sort: "completedAt", limit: "50" }, op)],
    ["list created range", () => api.list({ created_from: new Date(Date.now() - 3_600_000).toISOString(), limit: "50" }, op)],
    ["detail", () => api.get(someId, op)],
    ["audit", () => api.audit({}, op)],
    ["selection setPriority x50", () => api.actOnSelection({ action: "setPriority", priority: 1, ids: sample.items.slice(0, 50).map((j) => j.id) }, op)],
    ["bulk request (enqueue)", () => api.actByFilter({ action: "retry", filter: { type: "type-4", status: "failed", created_from: new Date().toISOString() } }, op)]
  ]
  await firstReads(api, op)
  for (const [name, call] of calls) {
    if (only !== undefined && !only.includes(name)) continue
    const times: Array<number> = []
    for (let r = 0; r < REPEAT; r++) {
      const s = performance.now()
      const res = await call()
      times.push(performance.now() - s)
      if (res.status >= 400) throw new Error(`${name}: HTTP ${res.status} ${JSON.stringify(res)}`)
    }
    times.sort((a, b) => a - b)
    console.log(JSON.stringify({ call: name, p50_ms: Math.round(pct(times, 0.5) * 10) / 10, p95_ms: Math.round(pct(times, 0.95) * 10) / 10 }))
  }

  // the bulk job's work: cancel every pending job, 1,000 per chunk
  if (bulk) await bulkCancel(store)
  await Effect.runPromise(Scope.close(scope, { _tag: "Success", value: undefined } as never))
  if (kept === undefined) await sql.raw(`drop schema "${schema}" cascade`).execute(db)
  await db.destroy()
}

type Api = ReturnType<typeof ConsoleApi.make>
type Op = Parameters<Api["series"]>[1]
const partialBuckets = (res: { body?: unknown }) =>
  ((res.body as { buckets?: Array<{ partial?: boolean }> }).buckets ?? []).filter((b) => b.partial === true).length

/**
 * The first chart reads after the fill (an upgrade, or days without a chart
 * read): the day's chart, with the hour's chart read beside it 100 ms later;
 * then the day's chart every 250 ms until no bucket is partial (a store that
 * summarizes in the background answers at once, partial, while it catches
 * up), with p50/p95 of those reads and when the chart was whole.
 */
const firstReads = async (api: Api, op: Op) => {
  const t0 = performance.now()
  const timed = async (call: () => Promise<{ status: number; body?: unknown }>) => {
    const s = performance.now()
    const res = await call()
    return { ms: Math.round(performance.now() - s), partial: partialBuckets(res) }
  }
  const day = timed(() => api.series({ range: "day" }, op))
  await new Promise((r) => setTimeout(r, 100))
  const hour = await timed(() => api.series({ range: "hour" }, op))
  const first = await day
  console.log(JSON.stringify({ call: "series day, first read", ms: first.ms, partial_buckets: first.partial }))
  console.log(JSON.stringify({ call: "series hour, beside the first read", ms: hour.ms, partial_buckets: hour.partial }))
  const times: Array<number> = []
  let partial = first.partial
  while (partial > 0 && performance.now() - t0 < 300_000) {
    await new Promise((r) => setTimeout(r, 250))
    const r = await timed(() => api.series({ range: "day" }, op))
    times.push(r.ms)
    partial = r.partial
  }
  times.sort((a, b) => a - b)
  console.log(JSON.stringify({
    call: "series day, while catching up",
    reads: times.length,
    p50_ms: times.length ? pct(times, 0.5) : null,
    p95_ms: times.length ? pct(times, 0.95) : null,
    max_ms: times.length ? times[times.length - 1] : null,
    whole_after_s: Math.round((performance.now() - t0) / 100) / 10,
    still_partial: partial
  }))
}

const bulkCancel = async (store: AdminStore.AdminStoreShape) => {
  const b0 = performance.now()
  let applied = 0
  let after: string | null = null
  do {
    const r: AdminStore.BulkChunkResult = await Effect.runPromise(store.bulkChunk({ action: { _tag: "cancel" }, filter: { status: ["pending"] }, after, limit: 1_000 }))
    applied += r.applied
    after = r.last
  } while (after !== null)
  const s = (performance.now() - b0) / 1000
  console.log(JSON.stringify({ bulk: "cancel pending", applied, seconds: Math.round(s * 10) / 10, per_s: Math.round(applied / s) }))
}

await main()
