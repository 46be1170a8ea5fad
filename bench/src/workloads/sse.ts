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
 *   last of them. The goal: all clients within 100 ms. Where the time goes:
 *   when the server heard the `NOTIFY`, wrote the first and the last
 *   stream, and its CPU time per change (user + system, which the machine's
 *   load moves less than wall time); the clients' CPU too.
 *
 * The server is a child process (this file with `server`); so are the
 * clients (`SSE_CLIENT_PROCESSES`, default 2, this file with `clients`),
 * each a bare TCP socket read with `onread` that only looks for the progress
 * field: 500 clients in the bench process (session 3–5) measured that
 * process's event loop taking 500 streams in turn as much as the server.
 * Times are read from the machine's monotonic clock, which every process
 * shares. No runner runs anywhere (its claim polling would be counted): this
 * process claims the job and writes its progress through a store of its own.
 * `SSE_IDLE_S=0` leaves the idle phases out.
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
import { connect, Socket } from "node:net"
import type { AddressInfo } from "node:net"
import { loadavg } from "node:os"
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
  // when the server wrote each progress value to its first and its last client (shared clock, ms)
  const writes = new Map<number, { first: number; last: number; flushed: number }>()
  // every socket write of the process (a response's, or a frame written straight to its connection)
  const write = Socket.prototype.write
  // the frame of one change is one string or buffer for every stream: matched once
  const seen = new Map<unknown, number | undefined>()
  Socket.prototype.write = function(this: Socket, chunk: unknown, ...rest: Array<unknown>) {
    if (!seen.has(chunk)) {
      if (seen.size > 64) seen.clear()
      const text = typeof chunk === "string" ? chunk : Buffer.isBuffer(chunk) ? chunk.toString("latin1") : ""
      const m = /"progress":(\d+)/.exec(text)
      seen.set(chunk, m ? Number(m[1]) : undefined)
    }
    const value = seen.get(chunk)
    if (value !== undefined) {
      const at = now()
      let w = writes.get(value)
      if (w) w.last = at
      else {
        const written = { first: at, last: at, flushed: at }
        writes.set(value, written)
        w = written
      }
      // `res.write` corks the socket until the next tick: the system calls may come after the
      // current task; the next immediate is after them
      const mark = w
      if (mark.flushed <= mark.last) {
        mark.flushed = Number.POSITIVE_INFINITY
        setImmediate(() => (mark.flushed = now()))
      }
    }
    return (write as (...a: Array<unknown>) => boolean).call(this, chunk, ...rest)
  } as typeof write
  // when each notification reached the server's LISTEN connection (shared clock, ms), in order
  const notified: Array<number> = []
  const emit = pg.Client.prototype.emit
  pg.Client.prototype.emit = function(this: pg.Client, event: string | symbol, ...args: Array<unknown>) {
    if (event === "notification") notified.push(now())
    return (emit as (...a: Array<unknown>) => boolean).call(this, event, ...args)
  } as typeof emit
  const jobs = Jobtrack.make({ store: counted, definitions: [work] })
  // hundreds of streams of one owner (the workload): no stream caps
  const router = jobsRouter(jobs, {
    prefix: "/jobs",
    owner: (ctx) => ctx.get("x-owner") || undefined,
    maxStreamsPerOwner: Infinity,
    maxStreams: Infinity
  })
  const app = new Koa()
  // the clients hang up at the end: their connection resets are expected
  app.silent = true
  const server = app.use(router.routes()).listen(0, "127.0.0.1")
  await new Promise<void>((resolve) => server.once("listening", resolve))
  process.stdout.write(`port ${(server.address() as AddressInfo).port}\n`)
  for await (const line of createInterface({ input: process.stdin })) {
    if (line === "count") process.stdout.write(`count ${calls} ${queries}\n`)
    if (line === "cpu") {
      const cpu = process.cpuUsage()
      process.stdout.write(`cpu ${cpu.user + cpu.system}\n`)
    }
    if (line.startsWith("writes ")) {
      const w = writes.get(Number(line.slice(7)))
      // the last notification heard before the first write of this value
      const heard = notified.filter((t) => t <= (w?.first ?? 0)).at(-1) ?? 0
      process.stdout.write(`writes ${w?.first ?? 0} ${w?.last ?? 0} ${heard} ${w?.flushed ?? 0}\n`)
    }
  }
  server.closeAllConnections()
  server.close()
  await jobs.close()
  process.exit(0)
}

/** A monotonic clock shared by every process of this machine (CLOCK_MONOTONIC), in ms. */
const now = () => Number(process.hrtime.bigint()) / 1e6

/**
 * A client process (this file with `clients`): `count` SSE clients of job
 * `id`, each a bare TCP socket that sends the request and looks for the
 * progress field in what arrives, nothing more (no HTTP parser, no JSON:
 * a browser follows one stream, not 500, so the receiving side should cost
 * as little as possible). "wait <p>" on stdin: once every client has
 * progress `p`, "got <p> <arrival times>" (the shared clock, ms).
 */
const clients = async (port: number, id: string, count: number) => {
  const arrivals = Array.from({ length: count }, () => new Map<number, number>())
  let waiting: { readonly p: number; readonly done: () => void } | undefined
  const check = () => {
    if (waiting && arrivals.every((a) => a.has(waiting!.p))) {
      const w = waiting
      waiting = undefined
      w.done()
    }
  }
  const request = Buffer.from(`GET /jobs/${id}/events HTTP/1.1\r\nHost: 127.0.0.1\r\nx-owner: bench\r\nAccept: text/event-stream\r\n\r\n`)
  const field = Buffer.from(`"progress":`)
  const follow = (arrived: Map<number, number>) =>
    new Promise<void>((resolve, reject) => {
      let head = true
      // a frame split over two reads: its start is kept for the next one
      let carry = Buffer.alloc(0)
      const into = Buffer.allocUnsafe(16 * 1024)
      // `onread`: each read into one buffer of this socket's, no stream machinery
      const socket = connect({
        port,
        host: "127.0.0.1",
        noDelay: true,
        onread: {
          buffer: into,
          callback: (size) => {
            const at = now()
            let data = into.subarray(0, size)
            if (carry.length > 0) data = Buffer.concat([carry, data])
            if (head) {
              if (data.toString("latin1", 0, 12) !== "HTTP/1.1 200") {
                reject(new Error(`answer: ${data.toString("latin1", 0, 40)}`))
                return false
              }
              head = false
              resolve()
            }
            let from = 0
            let end = data.length
            while ((from = data.indexOf(field, from)) >= 0) {
              let i = from + field.length
              let p = 0
              while (i < data.length && data[i]! >= 48 && data[i]! <= 57) p = p * 10 + data[i++]! - 48
              // the number runs to the end of what arrived: it may go on in the next read
              if (i === data.length) {
                end = from
                break
              }
              if (!arrived.has(p)) arrived.set(p, at)
              from = i
            }
            carry = end < data.length ? Buffer.from(data.subarray(Math.max(end, data.length - 64))) : Buffer.alloc(0)
            if (waiting) check()
            return true
          }
        }
      })
      socket.on("error", () => {})
      socket.write(request)
    })
  for (let i = 0; i < count; i += 50) await Promise.all(arrivals.slice(i, i + 50).map(follow))
  process.stdout.write("open\n")
  for await (const line of createInterface({ input: process.stdin })) {
    if (!line.startsWith("wait ")) continue
    const p = Number(line.slice(5))
    await new Promise<void>((done) => {
      waiting = { p, done }
      check()
    })
    const cpu = process.cpuUsage()
    process.stdout.write(`got ${p} ${cpu.user + cpu.system} ${arrivals.map((a) => a.get(p)!.toFixed(3)).join(",")}\n`)
  }
  process.exit(0)
}

/** A child process of this file, with its stdout read as lines. */
const child = (args: Array<string>, execArgv: Array<string> = []) => {
  const proc = spawn(process.execPath, [...execArgv, fileURLToPath(import.meta.url), ...args], { stdio: ["pipe", "pipe", "inherit"] })
  const waiting: Array<(line: string) => void> = []
  createInterface({ input: proc.stdout! }).on("line", (line) => waiting.shift()?.(line))
  return {
    proc,
    /** Send a command; the promise is its answer's line. */
    ask: (command: string) => {
      const answer = new Promise<string>((resolve) => waiting.push(resolve))
      if (command !== "") proc.stdin!.write(`${command}\n`)
      return answer
    }
  }
}

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
  /** From one progress write to the server's write of it to its last stream, p99. */
  readonly serverLastWriteP99Ms: number
  /** The server's CPU time (user + system) per change, p50. */
  readonly serverCpuPerChangeMs: number
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
  /** Processes the clients are spread over (default 2). */
  readonly clientProcesses?: number
  readonly log?: (line: string) => void
}): Promise<SseFigures> => {
  const url = options.url
  const CLIENTS = options.clients ?? 500
  const IDLE_S = options.idleSeconds ?? 10
  const ROUNDS = options.rounds ?? 20
  const PROCS = Math.max(1, options.clientProcesses ?? 2)
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
  const server = child(["server", schema, url], profile)
  const port = Number((await server.ask("")).split(" ")[1])
  /** The server's store calls and `pg` queries so far. */
  const serverCounts = async () => {
    const [, calls, queries] = (await server.ask("count")).split(" ")
    return { calls: Number(calls), queries: Number(queries) }
  }
  const serverCpuUs = async () => Number((await server.ask("cpu")).split(" ")[1])

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

  if (IDLE_S > 0 && (options.baseline ?? true)) await idle(0)

  // the clients, in processes of their own (SSE_CLIENT_PROCESSES): their reading shares no event loop with the server
  const groups = Array.from({ length: PROCS }, (_, i) => Math.floor(CLIENTS / PROCS) + (i < CLIENTS % PROCS ? 1 : 0))
  const followers = groups.filter((n) => n > 0).map((n) => child(["clients", String(port), id, String(n)]))
  // every client has the current view (progress 1) once open
  await Promise.all(followers.map((f) => f.ask("")))
  /** Every client's arrival time of progress `p` (the shared clock), once all have it, and the client processes' CPU so far (µs). */
  const arrivalsOf = async (p: number) => {
    const answers = await Promise.all(followers.map(async (f) => (await f.ask(`wait ${p}`)).split(" ")))
    return {
      times: answers.flatMap((a) => a[3]!.split(",").map(Number)),
      cpuUs: answers.reduce((sum, a) => sum + Number(a[2]), 0)
    }
  }
  await arrivalsOf(1)
  const idleFigures = IDLE_S > 0 ? await idle(CLIENTS) : undefined

  const lastArrival: Array<number> = []
  const perClient: Array<number> = []
  const toFirstWrite: Array<number> = []
  const toNotified: Array<number> = []
  const toLastWrite: Array<number> = []
  const toFlushed: Array<number> = []
  // from hearing the NOTIFY to the last stream's bytes handed to the system: the server's part
  const serverPart: Array<number> = []
  const writeSpan: Array<number> = []
  const cpuPerChange: Array<number> = []
  const clientCpuPerChange: Array<number> = []
  // the write's round trip (its commit; the NOTIFY goes out at the commit)
  const committed: Array<number> = []
  // (progress 1 is there: the answer is at once)
  let clientCpu = (await arrivalsOf(1)).cpuUs
  const loads: Array<number> = []
  for (let r = 0; r < ROUNDS; r++) {
    const p = 2 + r
    loads.push(loadavg()[0]!)
    const cpu0 = await serverCpuUs()
    const t0 = now()
    await run(store.progress(lease, p, null))
    committed.push(now() - t0)
    const arrived = await arrivalsOf(p)
    clientCpuPerChange.push(arrived.cpuUs - clientCpu)
    clientCpu = arrived.cpuUs
    const times = arrived.times.map((at) => at - t0)
    perClient.push(...times)
    lastArrival.push(Math.max(...times))
    const [, first, last, heard, flushed] = (await server.ask(`writes ${p}`)).split(" ").map(Number)
    toFlushed.push(flushed! - t0)
    serverPart.push(flushed! - heard!)
    cpuPerChange.push((await serverCpuUs()) - cpu0)
    toFirstWrite.push(first! - t0)
    toNotified.push(heard! - t0)
    toLastWrite.push(last! - t0)
    writeSpan.push(last! - first!)
    await sleep(300)
  }
  const fanout = {
    phase: "fanout",
    clients: CLIENTS,
    client_processes: followers.length,
    rounds: ROUNDS,
    load_average: Math.round((loads.reduce((a, b) => a + b, 0) / loads.length) * 10) / 10,
    all_clients_p50_ms: pct(lastArrival, 0.5),
    all_clients_p99_ms: pct(lastArrival, 0.99),
    per_client_p50_ms: pct(perClient, 0.5),
    per_client_p99_ms: pct(perClient, 0.99),
    // where the time goes: the write and its notification (to the server hearing it), the shared
    // read (to its first write), then its writes to every stream
    write_returned_p50_ms: pct(committed, 0.5),
    write_returned_p99_ms: pct(committed, 0.99),
    server_notified_p50_ms: pct(toNotified, 0.5),
    server_notified_p99_ms: pct(toNotified, 0.99),
    server_first_write_p50_ms: pct(toFirstWrite, 0.5),
    server_first_write_p99_ms: pct(toFirstWrite, 0.99),
    server_last_write_p50_ms: pct(toLastWrite, 0.5),
    server_last_write_p99_ms: pct(toLastWrite, 0.99),
    // after the system calls of its writes
    server_flushed_p50_ms: pct(toFlushed, 0.5),
    server_flushed_p99_ms: pct(toFlushed, 0.99),
    server_notified_to_flushed_p50_ms: pct(serverPart, 0.5),
    server_notified_to_flushed_p99_ms: pct(serverPart, 0.99),
    server_first_to_last_write_p50_ms: pct(writeSpan, 0.5),
    server_first_to_last_write_p99_ms: pct(writeSpan, 0.99),
    // the server's CPU for one change (user + system, whatever the machine's load)
    server_cpu_per_change_p50_ms: pct(cpuPerChange.map((us) => us / 1000), 0.5),
    // the client processes' (their reading, and answering this process)
    clients_cpu_per_change_p50_ms: pct(clientCpuPerChange.map((us) => us / 1000), 0.5)
  }
  log(JSON.stringify(fanout))

  for (const f of followers) f.proc.kill()
  server.proc.stdin!.end()
  await new Promise((r) => server.proc.once("exit", r))
  await reader.end()
  await Effect.runPromise(Scope.close(scope, Exit.void))
  await sql.raw(`drop schema "${schema}" cascade`).execute(db)
  await db.destroy()
  return {
    idleQueriesPerS: idleFigures?.server_queries_per_s ?? Number.NaN,
    idleStoreCallsPerS: idleFigures?.server_store_calls_per_s ?? Number.NaN,
    idleXactPerS: idleFigures?.database_xact_per_s ?? Number.NaN,
    allClientsP50Ms: fanout.all_clients_p50_ms,
    allClientsP99Ms: fanout.all_clients_p99_ms,
    serverLastWriteP99Ms: fanout.server_last_write_p99_ms,
    serverCpuPerChangeMs: fanout.server_cpu_per_change_p50_ms
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  if (process.argv[2] === "server") {
    await serve(process.argv[3]!, process.argv[4]!)
  } else if (process.argv[2] === "clients") {
    await clients(Number(process.argv[3]), process.argv[4]!, Number(process.argv[5]))
  } else {
    await measureSse({
      url: process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test",
      clients: Number(process.env.SSE_CLIENTS ?? 500),
      idleSeconds: Number(process.env.SSE_IDLE_S ?? 10),
      rounds: Number(process.env.SSE_ROUNDS ?? 20),
      clientProcesses: Number(process.env.SSE_CLIENT_PROCESSES ?? 2),
      log: (line) => console.log(line)
    })
  }
}
