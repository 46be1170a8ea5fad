/**
 * SSE fan-out (issue 13, item 5) on PostgreSQL: 500 real HTTP clients of a
 * listening server, each following one job's event stream
 * (`GET /jobs/:id/events`, jobsRouter over Tracker.watch and the process's
 * change hub).
 *
 * - Idle cost: transactions per second the database commits
 *   (`pg_stat_database.xact_commit + xact_rollback` of the bench database,
 *   its own readings subtracted) and store calls per second the server makes,
 *   over `SSE_IDLE_S` seconds, with no stream open and then with every
 *   stream open and nothing changing. The goal: no more than one shared
 *   fallback poll per process (the hub's default: one per second).
 * - Fan-out: `SSE_ROUNDS` times, one progress write of the job (committed by
 *   this process, as a runner elsewhere would); the time from the write's
 *   start to the frame's arrival at each client, and to its arrival at the
 *   last of them. The goal: all clients within 100 ms.
 *
 * The server is a child process (this file with `server`), so the clients'
 * parsing does not share its event loop. No runner runs anywhere (its claim
 * polling would be counted): this process claims the job and writes its
 * progress through a store of its own.
 *
 * Run it against a database of its own (other sessions' transactions would
 * be counted):
 *   DATABASE_URL=postgres://…/jt_sse ../node_modules/.bin/node src/workloads/sse.ts   (from bench/)
 *
 * `pnpm bench` runs it (`measureSse`, workload `sse`, without the 0-stream
 * baseline) once, after the other workloads, in a database it creates for it
 * (`<DATABASE_URL's database>_sse`, dropped afterwards).
 */
import { spawn } from "node:child_process"
import { request, ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { createInterface } from "node:readline"
import { fileURLToPath, pathToFileURL } from "node:url"
import Koa from "koa"
import { Effect, Exit, Layer, Schema, Scope } from "effect"
import { JobDefinition, JobId, JobStore, Jobtrack } from "@jobtrack/core"
import type { JobStoreShape } from "@jobtrack/core"
import { jobsRouter } from "@jobtrack/adapter-koa"
import { migrate, postgres } from "@jobtrack/adapter-kysely"
import { Kysely, PostgresDialect, sql } from "kysely"
import pg from "pg"


const work = JobDefinition.make({ type: "work", payload: Schema.Struct({}), handler: () => Effect.void })

/**
 * The server: jobsRouter on a listening Koa app. Counts its store calls and
 * the queries its `pg` clients send (pool and LISTEN connection alike);
 * "count" on stdin prints both.
 */
const serve = async (schema: string, url: string) => {
  let calls = 0
  let queries = 0
  const send = pg.Client.prototype.query
  pg.Client.prototype.query = function(this: pg.Client, ...args: Array<unknown>) {
    queries++
    return (send as (...a: Array<unknown>) => unknown).apply(this, args)
  } as typeof send
  const counted = Layer.effect(
    JobStore,
    Effect.map(postgres({ connectionString: url, schema, migrate: false, max: 5 }), (inner): JobStoreShape =>
      new Proxy(inner, {
        get: (target, key) => {
          const value = (target as unknown as Record<string | symbol, unknown>)[key]
          return typeof value === "function" ? (...args: Array<unknown>) => (calls++, (value as (...a: Array<unknown>) => unknown)(...args)) : value
        }
      }))
  )
  // when the server wrote each progress value to its first and its last client (epoch ms)
  const writes = new Map<number, { first: number; last: number }>()
  const write = ServerResponse.prototype.write
  ServerResponse.prototype.write = function(this: ServerResponse, chunk: unknown, ...rest: Array<unknown>) {
    const m = typeof chunk === "string" ? /"progress":(\d+)/.exec(chunk) : null
    if (m) {
      const at = performance.timeOrigin + performance.now()
      const w = writes.get(Number(m[1]))
      if (w) w.last = at
      else writes.set(Number(m[1]), { first: at, last: at })
    }
    return (write as (...a: Array<unknown>) => boolean).call(this, chunk, ...rest)
  } as typeof write
  // when each notification reached the server's LISTEN connection (epoch ms), in order
  const notified: Array<number> = []
  const emit = pg.Client.prototype.emit
  pg.Client.prototype.emit = function(this: pg.Client, event: string | symbol, ...args: Array<unknown>) {
    if (event === "notification") notified.push(performance.timeOrigin + performance.now())
    return (emit as (...a: Array<unknown>) => boolean).call(this, event, ...args)
  } as typeof emit
  const jobs = Jobtrack.make({ store: counted, definitions: [work] })
  const router = jobsRouter(jobs, { prefix: "/jobs", owner: (ctx) => ctx.get("x-owner") || undefined })
  const app = new Koa()
  // the clients hang up at the end: their connection resets are expected
  app.silent = true
  const server = app.use(router.routes()).listen(0, "127.0.0.1")
  await new Promise<void>((resolve) => server.once("listening", resolve))
  process.stdout.write(`port ${(server.address() as AddressInfo).port}\n`)
  for await (const line of createInterface({ input: process.stdin })) {
    if (line === "count") process.stdout.write(`count ${calls} ${queries}\n`)
    if (line.startsWith("writes ")) {
      const w = writes.get(Number(line.slice(7)))
      // the last notification heard before the first write of this value
      const heard = notified.filter((t) => t <= (w?.first ?? 0)).at(-1) ?? 0
      process.stdout.write(`writes ${w?.first ?? 0} ${w?.last ?? 0} ${heard}\n`)
    }
  }
  server.closeAllConnections()
  server.close()
  await jobs.close()
  process.exit(0)
}

/** One SSE client: the arrival time of each progress value. */
const follow = (port: number, id: string, arrivals: Map<number, number>): Promise<() => void> =>
  new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path: `/jobs/${id}/events`, headers: { "x-owner": "bench" } }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`HTTP ${res.statusCode}`))
      res.setEncoding("utf8")
      let buffer = ""
      res.on("data", (chunk: string) => {
        const at = performance.now()
        buffer += chunk
        let cut: number
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, cut)
          buffer = buffer.slice(cut + 2)
          // the progress field only (a client that parsed the whole view would add its own time)
          const m = /^data: .*"progress":(\d+)/m.exec(block)
          if (m) {
            const p = Number(m[1])
            if (!arrivals.has(p)) arrivals.set(p, at)
          }
        }
      })
      res.on("error", () => {})
      resolve(() => req.destroy())
    })
    req.on("error", reject)
    req.end()
  })

const pct = (xs: Array<number>, p: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return Math.round(s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)]! * 10) / 10
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** What `measureSse` returns: the figures of the JSON lines it logs. */
export interface SseFigures {
  /** With every stream open and nothing changing: the server's own count of its queries. */
  readonly idleQueriesPerS: number
  readonly idleStoreCallsPerS: number
  /** The database's transactions per second meanwhile (an upper bound: autovacuum's count too). */
  readonly idleXactPerS: number
  /** From one progress write to the last of the clients having it. */
  readonly allClientsP50Ms: number
  readonly allClientsP99Ms: number
}

/**
 * The workload: `clients` streams of one job on a server child process,
 * against `url` (a database of its own: its transactions are counted).
 * `baseline`: measure the idle cost with no stream open first. Each phase's
 * figures go to `log` as a JSON line.
 */
export const measureSse = async (options: {
  readonly url: string
  readonly clients?: number
  readonly idleSeconds?: number
  readonly rounds?: number
  readonly baseline?: boolean
  readonly log?: (line: string) => void
}): Promise<SseFigures> => {
  const url = options.url
  const CLIENTS = options.clients ?? 500
  const IDLE_S = options.idleSeconds ?? 10
  const ROUNDS = options.rounds ?? 20
  const log = options.log ?? (() => {})
  const schema = `bench_sse_${Math.random().toString(36).slice(2, 8)}`
  const pool = new pg.Pool({ connectionString: url, max: 2 })
  const db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool }) })
  await migrate(db, { schema })
  const scope = Effect.runSync(Scope.make())
  const store = await Effect.runPromise(Scope.provide(postgres({ connectionString: url, schema, migrate: false, max: 2 }), scope))
  const run = <A, E>(e: Effect.Effect<A, E>) => Effect.runPromise(e)

  // the watched job, held by this process: its progress writes are the changes
  const id = JobId.make()
  await run(store.enqueue({
    id, type: "work", queue: "default", payload: {}, maxAttempts: 1, priority: 0, runAt: new Date(0),
    owner: "bench", key: null, groupKey: null, groupLimit: null
  }))
  const [held] = await run(store.claim({ queues: ["default"], types: ["work"], workerId: "bench", limit: 1, leaseMs: 3_600_000 }))
  const lease = { id, token: held!.token }
  await run(store.progress(lease, 1, null))

  // SSE_PROFILE=<dir>: a CPU profile of the server
  const profile = process.env.SSE_PROFILE ? ["--cpu-prof", `--cpu-prof-dir=${process.env.SSE_PROFILE}`] : []
  const child = spawn(process.execPath, [...profile, fileURLToPath(import.meta.url), "server", schema, url], {
    stdio: ["pipe", "pipe", "inherit"]
  })
  const lines = createInterface({ input: child.stdout! })
  const waiting: Array<(line: string) => void> = []
  lines.on("line", (line) => waiting.shift()?.(line))
  const nextLine = () => new Promise<string>((resolve) => waiting.push(resolve))
  const port = Number((await nextLine()).split(" ")[1])
  /** The server's store calls and `pg` queries so far. */
  const serverCounts = async () => {
    child.stdin!.write("count\n")
    const [, calls, queries] = (await nextLine()).split(" ")
    return { calls: Number(calls), queries: Number(queries) }
  }

  const reader = new pg.Client({ connectionString: url })
  await reader.connect()
  const xacts = async () =>
    Number((await reader.query<{ n: string }>(
      `select xact_commit + xact_rollback as n from pg_stat_database where datname = current_database()`
    )).rows[0]!.n)
  /** Transactions and server store calls per second over the idle window (this reader's own transactions subtracted). */
  const idle = async (clients: number) => {
    // a backend that went idle reports its transactions to pg_stat_database up to 10 s later:
    // those of opening the streams must land before the window
    await sleep(11_000)
    const [x0, c0] = [await xacts(), await serverCounts()]
    const t0 = performance.now()
    await sleep(IDLE_S * 1000)
    // autovacuum's transactions count there too: the server's own count of its queries is the exact figure
    const [x1, c1] = [await xacts(), await serverCounts()]
    const s = (performance.now() - t0) / 1000
    const rate = (n: number) => Math.round((n / s) * 100) / 100
    const figures = {
      phase: "idle",
      clients,
      seconds: Math.round(s * 10) / 10,
      server_queries_per_s: rate(c1.queries - c0.queries),
      server_store_calls_per_s: rate(c1.calls - c0.calls),
      database_xact_per_s: rate(x1 - x0 - 1)
    }
    log(JSON.stringify(figures))
    return figures
  }

  if (options.baseline ?? true) await idle(0)

  const arrivals = Array.from({ length: CLIENTS }, () => new Map<number, number>())
  const closers: Array<() => void> = []
  for (let i = 0; i < CLIENTS; i += 50) {
    closers.push(...await Promise.all(arrivals.slice(i, i + 50).map((a) => follow(port, id, a))))
  }
  const allHave = async (p: number, withinMs: number) => {
    const start = performance.now()
    while (!arrivals.every((a) => a.has(p))) {
      if (performance.now() - start > withinMs) {
        throw new Error(`progress ${p}: ${arrivals.filter((a) => a.has(p)).length} of ${CLIENTS} clients within ${withinMs} ms`)
      }
      await sleep(1)
    }
  }
  await allHave(1, 60_000)
  const idleFigures = await idle(CLIENTS)

  const lastArrival: Array<number> = []
  const perClient: Array<number> = []
  const toFirstWrite: Array<number> = []
  const toNotified: Array<number> = []
  const writeSpan: Array<number> = []
  const epoch = (t: number) => performance.timeOrigin + t
  for (let r = 0; r < ROUNDS; r++) {
    const p = 2 + r
    const t0 = performance.now()
    await run(store.progress(lease, p, null))
    await allHave(p, 10_000)
    const times = arrivals.map((a) => a.get(p)! - t0)
    perClient.push(...times)
    lastArrival.push(Math.max(...times))
    child.stdin!.write(`writes ${p}\n`)
    const [, first, last, heard] = (await nextLine()).split(" ").map(Number)
    toFirstWrite.push(first! - epoch(t0))
    toNotified.push(heard! - epoch(t0))
    writeSpan.push(last! - first!)
    await sleep(300)
  }
  log(JSON.stringify({
    phase: "fanout",
    clients: CLIENTS,
    rounds: ROUNDS,
    all_clients_p50_ms: pct(lastArrival, 0.5),
    all_clients_p99_ms: pct(lastArrival, 0.99),
    per_client_p50_ms: pct(perClient, 0.5),
    per_client_p99_ms: pct(perClient, 0.99),
    // where the time goes: the write and its notification (to the server hearing it), the shared
    // read (to its first write), then its 500 writes
    server_notified_p50_ms: pct(toNotified, 0.5),
    server_first_write_p50_ms: pct(toFirstWrite, 0.5),
    server_first_to_last_write_p50_ms: pct(writeSpan, 0.5),
    server_first_to_last_write_p99_ms: pct(writeSpan, 0.99)
  }))

  for (const close of closers) close()
  child.stdin!.end()
  await new Promise((r) => child.once("exit", r))
  await reader.end()
  await Effect.runPromise(Scope.close(scope, Exit.void))
  await sql.raw(`drop schema "${schema}" cascade`).execute(db)
  await db.destroy()
  return {
    idleQueriesPerS: idleFigures.server_queries_per_s,
    idleStoreCallsPerS: idleFigures.server_store_calls_per_s,
    idleXactPerS: idleFigures.database_xact_per_s,
    allClientsP50Ms: pct(lastArrival, 0.5),
    allClientsP99Ms: pct(lastArrival, 0.99)
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  if (process.argv[2] === "server") {
    await serve(process.argv[3]!, process.argv[4]!)
  } else {
    await measureSse({
      url: process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test",
      clients: Number(process.env.SSE_CLIENTS ?? 500),
      idleSeconds: Number(process.env.SSE_IDLE_S ?? 10),
      rounds: Number(process.env.SSE_ROUNDS ?? 20),
      log: (line) => console.log(line)
    })
  }
}
