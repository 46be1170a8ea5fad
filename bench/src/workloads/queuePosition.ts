/**
 * Queue position at depth (issue 13, item 2): a pending job's view (the job
 * and its queue position) against a plain get of the same job, with 10,000
 * and 100,000 pending jobs in the queue (loaded with one `generate_series`
 * INSERT, then ANALYZEd), over jobs spread across the queue (from place 1 to
 * the last). jobtrack only: the peers have no queue position. Gets and views
 * alternate call by call, so both see the same moments of a noisy machine; so
 * does a view of a completed job (100 of them in the table): the same query
 * with no position to find, the floor of what a view can cost. Each round
 * makes the three calls in an order rotated round by round (get, view,
 * completed view; then view, completed view, get; …), so none of them is
 * always the first call after the last round's; `BENCH_POSITION_CALLS` (3,000)
 * rounds, so that a p99 is the 30th slowest call of each kind, not the 10th.
 *
 * Over HTTP too, as issue 13 measured it: the adapter-koa jobs router on a
 * listening server (its own store and tracker on the same schema), `GET /:id`
 * of the same pending jobs (the view, position included) against `GET /:id`
 * of the completed jobs (the same route with no position to find; there is no
 * plain-get route): p50 / p99 of one request at a time, alternating, and
 * req/s of `HTTP_CONCURRENCY` requests in flight, in alternating batches.
 *
 * After the load the table is vacuumed (`vacuum analyze`), standing in for
 * autovacuum: this server runs without it, and with it (the default) a fill
 * of 10,000 or 100,000 jobs passes its insert threshold and is vacuumed
 * within a minute, which sets the visibility map that lets a view count the
 * jobs ahead from the claim index alone (migration 0029).
 * `BENCH_POSITION_VACUUM=0` only analyzes: every view that counts then visits
 * the rows ahead, as in the first minute after a fill.
 *
 * Run alone it also prints the views' p50 / p99 by class of place: within the
 * first 1,000 (the view counts the jobs ahead), places 1,001-1,500 (before the
 * end of the queue's boundary walk) and behind place 1,500 (proved past the
 * cap by the boundary). Before migration 0023 the first two classes (a walk,
 * planned on every call, in a second query) made the p99 of all views.
 *
 * Alone (one workload, jobtrack only; prints the figures and view/get ratios):
 *
 *   DATABASE_URL=postgres://… node src/workloads/queuePosition.ts     (from bench/)
 */
import http from "node:http"
import type { AddressInfo } from "node:net"
import { pathToFileURL } from "node:url"
import { Effect, Exit, Scope } from "effect"
import { JobStore, Tracker } from "@jobtrack/core"
import { jobsRouter } from "@jobtrack/adapter-koa"
import { postgres } from "@jobtrack/adapter-kysely"
import Koa from "koa"
import pg from "pg"
import { jobtrack } from "../systems.ts"
import type { System } from "../systems.ts"

const depths = [10_000, 100_000] as const
/** Calls of each kind per depth: a p99 is the 30th slowest of 3,000 (of 1,000 before session 9: the 10th, noisy). */
const CALLS = Number(process.env.BENCH_POSITION_CALLS ?? 3000)
const HTTP_REQUESTS = Number(process.env.BENCH_POSITION_HTTP_REQUESTS ?? 2000)
const HTTP_CONCURRENCY = 8
/** Vacuum the loaded jobs, as autovacuum would (default); `BENCH_POSITION_VACUUM=0` only analyzes them. */
const vacuum = process.env.BENCH_POSITION_VACUUM !== "0"

const metric = (what: "get" | "view" | "done", depth: number, p: string) =>
  `${what === "get" ? "pending job get" : what === "view" ? "pending job view with position" : "completed job view (no position)"} at ${
    depth.toLocaleString("en")
  } pending ${p} (ms)`

const httpMetric = (what: "pending" | "completed", depth: number, p: "p50" | "p99" | "req/s") =>
  `HTTP GET of a ${what} job's status at ${depth.toLocaleString("en")} pending ${p === "req/s" ? "(req/s)" : `${p} (ms)`}`

/** The metrics this module records, for main's table. */
export const positionMetrics: Array<[string, "higher" | "lower"]> = depths.flatMap((d) => [
  [metric("get", d, "p50"), "lower"] as [string, "lower"],
  [metric("get", d, "p99"), "lower"] as [string, "lower"],
  [metric("view", d, "p50"), "lower"] as [string, "lower"],
  [metric("view", d, "p99"), "lower"] as [string, "lower"],
  [metric("done", d, "p50"), "lower"] as [string, "lower"],
  ...(["pending", "completed"] as const).flatMap((what) => [
    [httpMetric(what, d, "p50"), "lower"] as [string, "lower"],
    [httpMetric(what, d, "p99"), "lower"] as [string, "lower"],
    [httpMetric(what, d, "req/s"), "higher"] as [string, "higher"]
  ])
])

/**
 * The jobs router (adapter-koa) of its own tracker and store on `schema`, on a
 * listening server, and a keep-alive client of it: `get(id)` answers the status code.
 */
const statusServer = async (url: string, schema: string) => {
  const scope = Effect.runSync(Scope.make())
  try {
    const store = await Effect.runPromise(Scope.provide(postgres({ connectionString: url, schema, max: HTTP_CONCURRENCY }), scope))
    const tracker = await Effect.runPromise(Tracker.make({ definitions: [] }).pipe(Effect.provideService(JobStore, store)))
    const router = jobsRouter(tracker, { owner: () => null, allowAnonymous: true })
    const server = new Koa().use(router.routes()).use(router.allowedMethods()).listen(0, "127.0.0.1")
    await new Promise<void>((resolve) => server.once("listening", resolve))
    const { port } = server.address() as AddressInfo
    const agent = new http.Agent({ keepAlive: true, maxSockets: HTTP_CONCURRENCY })
    const get = (id: string) =>
      new Promise<number>((resolve, reject) => {
        http.get({ host: "127.0.0.1", port, path: `/${id}`, agent }, (res) => {
          res.resume()
          res.on("end", () => resolve(res.statusCode ?? 0))
          res.on("error", reject)
        }).on("error", reject)
      })
    const close = async () => {
      agent.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      await Effect.runPromise(Scope.close(scope, Exit.void))
    }
    return { get, close }
  } catch (e) {
    await Effect.runPromise(Scope.close(scope, Exit.void))
    throw e
  }
}

/**
 * HTTP status of pending jobs (`pending`, their places spread over the queue)
 * against completed ones: one request at a time, alternating, for p50 / p99;
 * then `HTTP_CONCURRENCY` in flight, in alternating batches, for req/s.
 */
const statusOverHttp = async (
  get: (id: string) => Promise<number>,
  pending: ReadonlyArray<string>,
  done: ReadonlyArray<string>
) => {
  const check = (status: number) => {
    if (status !== 200) throw new Error(`GET of a job's status answered ${status}`)
  }
  const latencies = { pending: [] as Array<number>, completed: [] as Array<number> }
  for (let k = 0; k < HTTP_REQUESTS; k++) {
    for (const [what, ids] of [["pending", pending], ["completed", done]] as const) {
      const t0 = performance.now()
      check(await get(ids[k % ids.length]!))
      latencies[what].push(performance.now() - t0)
    }
  }
  const busy = { pending: 0, completed: 0 }
  const batch = 200
  for (let k = 0; k < HTTP_REQUESTS; k += batch) {
    for (const [what, ids] of [["pending", pending], ["completed", done]] as const) {
      let next = k
      const t0 = performance.now()
      await Promise.all(Array.from({ length: HTTP_CONCURRENCY }, async () => {
        while (next < k + batch) check(await get(ids[next++ % ids.length]!))
      }))
      busy[what] += performance.now() - t0
    }
  }
  const requests = Math.ceil(HTTP_REQUESTS / batch) * batch
  return (["pending", "completed"] as const).map((what) => ({
    what,
    p50: percentile(latencies[what], 0.5)!,
    p99: percentile(latencies[what], 0.99)!,
    perS: requests / (busy[what] / 1000)
  }))
}

const percentile = (xs: Array<number>, p: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(p * s.length))]
}

/** The sampled places by what a view does for them: counts them, counts to the cap, or proves the cap. */
const classes = [
  ["within the first 1,000 places (counted)", (place: number) => place <= 1000],
  ["places 1,001-1,500 (before the boundary's end)", (place: number) => place > 1000 && place <= 1500],
  ["behind place 1,500", (place: number) => place > 1500]
] as const

export const viewAtDepth = (options: {
  readonly url: string
  readonly record: (system: string, metric: string, value: number | undefined) => void
  /** The views' p50 / p99 by class of place (`classes`), when given. */
  readonly detail?: (depth: number, what: string, calls: number, p50: number, p99: number) => void
}) =>
async (s: System): Promise<void> => {
  if (s.name !== "jobtrack" || !s.view) return
  const db = new pg.Pool({ connectionString: options.url, max: 1 })
  const server = await statusServer(options.url, "bench_jobtrack")
  try {
    for (const depth of depths) {
      await s.reset()
      await db.query(`
        insert into bench_jobtrack.jobs (id, type, queue, payload, status, max_attempts, run_at, created_at, updated_at)
        select gen_random_uuid(), 'noop', 'default', jsonb_build_object('i', g), 'pending', 1,
          now() - interval '1 hour' + g * interval '1 millisecond', now(), now()
        from generate_series(1, $1::int) g`, [depth])
      // and 100 completed jobs: their view is the same query with no position to find
      await db.query(`
        insert into bench_jobtrack.jobs (id, type, queue, payload, status, max_attempts, attempts, run_at, created_at,
          started_at, completed_at, updated_at, result)
        select gen_random_uuid(), 'noop', 'default', jsonb_build_object('i', g), 'completed', 1, 1,
          now() - interval '2 hours', now() - interval '2 hours', now() - interval '2 hours', now() - interval '2 hours',
          now() - interval '2 hours', 'null'::jsonb
        from generate_series(1, 100) g`)
      // a vacuum too, as autovacuum would leave the table (the visibility map set); BENCH_POSITION_VACUUM=0: none
      await db.query(vacuum ? `vacuum analyze bench_jobtrack.jobs` : `analyze bench_jobtrack.jobs`)
      const done = (await db.query<{ id: string }>(`select id from bench_jobtrack.jobs where status = 'completed'`)).rows
        .map((r) => r.id)
      // 100 jobs evenly spread over the claim order, from the first place to the last
      const sampled = (await db.query<{ id: string; place: string }>(`
        select id, place from (
          select id, row_number() over (order by priority desc, run_at, id) as place from bench_jobtrack.jobs
          where status = 'pending'
        ) o where (place - 1) % ($1::int / 100) = 0 order by place`, [depth])).rows
      const ids = sampled.map((r) => r.id)
      const byClass = classes.map(() => [] as Array<number>)
      const classOf = sampled.map((r) => classes.findIndex(([, has]) => has(Number(r.place))))
      const gets: Array<number> = []
      const views: Array<number> = []
      const dones: Array<number> = []
      const view = s.view
      for (let k = 0; k < CALLS; k++) {
        const id = ids[k % ids.length]!
        // the three calls in turn, their order rotated each round: none is always first after the last
        for (let i = 0; i < 3; i++) {
          const which = (k + i) % 3
          const t0 = performance.now()
          if (which === 0) {
            await s.getById(id)
            gets.push(performance.now() - t0)
          } else if (which === 1) {
            await view(id)
            const t = performance.now() - t0
            views.push(t)
            byClass[classOf[k % ids.length]!]!.push(t)
          } else {
            await view(done[k % done.length]!)
            dones.push(performance.now() - t0)
          }
        }
      }
      classes.forEach(([what], i) => {
        const xs = byClass[i]!
        if (xs.length > 0) options.detail?.(depth, what, xs.length, percentile(xs, 0.5)!, percentile(xs, 0.99)!)
      })
      options.record(s.name, metric("get", depth, "p50"), percentile(gets, 0.5))
      options.record(s.name, metric("get", depth, "p99"), percentile(gets, 0.99))
      options.record(s.name, metric("view", depth, "p50"), percentile(views, 0.5))
      options.record(s.name, metric("view", depth, "p99"), percentile(views, 0.99))
      options.record(s.name, metric("done", depth, "p50"), percentile(dones, 0.5))
      for (const r of await statusOverHttp(server.get, ids, done)) {
        options.record(s.name, httpMetric(r.what, depth, "p50"), r.p50)
        options.record(s.name, httpMetric(r.what, depth, "p99"), r.p99)
        options.record(s.name, httpMetric(r.what, depth, "req/s"), r.perS)
      }
    }
  } finally {
    await server.close()
    await db.end()
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const url = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test"
  const figures = new Map<string, number | undefined>()
  const system = await jobtrack(url)
  try {
    await viewAtDepth({
      url,
      record: (_system, m, value) => figures.set(m, value),
      detail: (depth, what, calls, p50, p99) =>
        console.log(`  view at ${depth.toLocaleString("en")} pending, ${what}: ${calls} calls, p50 ${p50.toFixed(3)} / p99 ${p99.toFixed(3)} ms`)
    })(system)
  } finally {
    await system.reset()
    await system.close()
  }
  console.log(vacuum ? "loaded jobs vacuumed (as autovacuum would)" : "loaded jobs analyzed only (BENCH_POSITION_VACUUM=0)")
  for (const [m, value] of figures) console.log(`${m}: ${value?.toFixed(3)}`)
  for (const depth of depths) {
    const ratio = (p: string) => (figures.get(metric("view", depth, p))! / figures.get(metric("get", depth, p))!).toFixed(2)
    console.log(`view/get at ${depth.toLocaleString("en")} pending: p50 ${ratio("p50")}×, p99 ${ratio("p99")}×`)
    const http = (p: "p50" | "p99" | "req/s") =>
      (figures.get(httpMetric("pending", depth, p))! / figures.get(httpMetric("completed", depth, p))!).toFixed(2)
    console.log(`HTTP pending/completed at ${depth.toLocaleString("en")} pending: p50 ${http("p50")}×, p99 ${http("p99")}×, req/s ${http("req/s")}×`)
  }
}
