/**
 * Scale-out with I/O-bound jobs (issue 13, item 7): 1, 2, 4 and 8 runner
 * processes on one PostgreSQL, each job awaiting a fixed delay (an HTTP call,
 * say) instead of using CPU, so that the processes are not CPU-bound on a
 * small machine and the ideal throughput is linear in the processes:
 * `processes × concurrency ÷ delay`. What falls short of that line is the
 * database's share: the claim, its lock, the completions.
 *
 * Systems (one after the other within a round, process counts in turn):
 * - `jobtrack`: jobs without a group, claimed without the claim lock (0011);
 * - `jobtrack-grouped`: every job in a limited group (64 groups, limit 1,000,
 *   never full), so every claim takes the per-schema advisory lock;
 * - `jobtrack-group-locks`: the same grouped jobs in a schema of their own whose
 *   `claim()` is the prototype of groupLockClaim.ts (a lock per group, not
 *   per schema; not shipped, measured for the design question);
 * - `pg-boss`: `work` with `batchSize = concurrency` and `burstWhenBatchFull`
 *   (its throughput setting, as in `pnpm bench`);
 * - `graphile-worker`: `run` with `concurrency`.
 *
 * Per configuration: a backlog for the whole window is enqueued, the children
 * start, connect and report ready (start-up is not timed), then all start
 * together; the jobs finished between 2 s and 2 + SCALE_IO_SECONDS s after the
 * start are counted in the database. Meanwhile the parent samples
 * `pg_stat_activity` and `pg_locks` every 25 ms: backends waiting on the
 * advisory lock, on other locks, and the share of samples in which the claim
 * lock was held. For jobtrack, `claim()`'s calls and mean time come from
 * `pg_stat_user_functions` (the children's connections run with
 * `track_functions = pl`). CPU: the children's and the database backends'
 * (from /proc), in cores over the window.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/<yours> node src/workloads/scaleOutIo.ts
 *   SCALE_IO_PROCESSES=1,2,4,8 SCALE_IO_SYSTEMS=jobtrack,jobtrack-grouped,pg-boss,graphile-worker
 *   SCALE_IO_DELAY_MS=50 SCALE_IO_CONCURRENCY=10 SCALE_IO_SECONDS=10 SCALE_IO_ROUNDS=2
 *   SCALE_IO_SYSTEMS=jobtrack-grouped,jobtrack-group-locks   main's claim against groupLockClaim.ts's prototype
 *
 * Run from bench/ after `pnpm build` (it imports the built packages), against a database of your
 * own (it counts every backend of the database). Prints one JSON line per configuration and a
 * table of medians at the end.
 */
import { loadavg } from "node:os"
import { fileURLToPath } from "node:url"
import { Duration, Effect, Exit, Schema, Scope } from "effect"
import { JobDefinition, JobStore, RetryPolicy, Runner, Tracker } from "@jobtrack/core"
import { postgres } from "@jobtrack/adapter-kysely"
import { Logger, makeWorkerUtils, run as runGraphile } from "graphile-worker"
import pg from "pg"
import { PgBoss } from "pg-boss"
import { cpuMs, median, serveFleetChild, spawnFleet } from "./fleet.ts"
import { groupLockClaim } from "./groupLockClaim.ts"

const url = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test"
const PROCESSES = (process.env.SCALE_IO_PROCESSES ?? "1,2,4,8").split(",").map(Number)
const SYSTEMS = (process.env.SCALE_IO_SYSTEMS ?? "jobtrack,jobtrack-grouped,pg-boss,graphile-worker").split(",")
const DELAY_MS = Number(process.env.SCALE_IO_DELAY_MS ?? 50)
const CONCURRENCY = Number(process.env.SCALE_IO_CONCURRENCY ?? 10)
const SECONDS = Number(process.env.SCALE_IO_SECONDS ?? 10)
const ROUNDS = Number(process.env.SCALE_IO_ROUNDS ?? 2)
const WARMUP_S = 2
const GROUPS = 64
const GROUP_LIMIT = 1000
const POOL = 4

const jobtrackSchema = "bench_scale_io"
const groupLocksSchema = "bench_scale_io_gl"
const schemaOf = (system: string) => system === "jobtrack-group-locks" ? groupLocksSchema : jobtrackSchema
const bossSchema = "bench_scale_io_boss"
const graphileSchema = "bench_scale_io_graphile"
const bossQueue = "io"

/** The children's connections: named (so the sampler can tell them apart) and tracking plpgsql calls. */
const childUrl = (system: string) => {
  const u = new URL(url)
  u.searchParams.set("application_name", `scale_io_${system}`)
  u.searchParams.set("options", "-c track_functions=pl")
  return u.toString()
}

const pause = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

const ioPayload = Schema.Struct({ i: Schema.Int })
const io = JobDefinition.make({
  type: "io",
  payload: ioPayload,
  retry: RetryPolicy.none,
  handler: () => Effect.sleep(Duration.millis(DELAY_MS))
})
const ioGrouped = JobDefinition.make({
  type: "io_grouped",
  payload: ioPayload,
  retry: RetryPolicy.none,
  group: { key: ({ i }) => `g${i % GROUPS}`, limit: GROUP_LIMIT },
  handler: () => Effect.sleep(Duration.millis(DELAY_MS))
})

/** A child: set up, say "ready", start working on "go", stop on SIGTERM (fleet.ts). */
const child = (system: string) => serveFleetChild(async () => {
  const curl = childUrl(system)
  let start: () => Promise<void>
  let stop: () => Promise<void>
  if (system.startsWith("jobtrack")) {
    const scope = Effect.runSync(Scope.make())
    const store = await Effect.runPromise(
      Scope.provide(postgres({ connectionString: curl, schema: schemaOf(system), max: POOL, migrate: false }), scope)
    )
    const definition = system === "jobtrack" ? io : ioGrouped
    start = async () => {
      await Effect.runPromise(Scope.provide(
        Runner.make({ definitions: [definition], concurrency: CONCURRENCY, pollInterval: "1 second", prune: false })
          .pipe(Effect.provideService(JobStore, store)),
        scope
      ))
    }
    stop = () => Effect.runPromise(Scope.close(scope, Exit.void))
  } else if (system === "pg-boss") {
    const boss = new PgBoss({ connectionString: curl, schema: bossSchema, max: POOL, useListenNotify: true, supervise: false, schedule: false })
    boss.on("error", () => {})
    await boss.start()
    start = async () => {
      await boss.work<{ i: number }>(
        bossQueue,
        { batchSize: CONCURRENCY, burstWhenBatchFull: true, pollingIntervalSeconds: 1, notifyPollingIntervalSeconds: 1 } as never,
        async (jobs: Array<unknown>) => {
          await Promise.all(jobs.map(() => pause(DELAY_MS)))
        }
      )
    }
    stop = () => boss.stop({ graceful: false, close: true } as never)
  } else if (system === "graphile-worker") {
    const pgPool = new pg.Pool({ connectionString: curl, max: POOL + 1 })
    const logger = new Logger(() => () => {})
    let runner: Awaited<ReturnType<typeof runGraphile>> | undefined
    start = async () => {
      runner = await runGraphile({
        pgPool,
        schema: graphileSchema,
        concurrency: CONCURRENCY,
        noHandleSignals: true,
        pollInterval: 1000,
        logger,
        taskList: { io: () => pause(DELAY_MS) }
      })
    }
    stop = async () => {
      await runner?.stop()
      await pgPool.end()
    }
  } else {
    throw new Error(`unknown system ${system}`)
  }
  // jobs are counted in the database, not reported
  return { start: () => start(), stop: () => stop() }
})

interface Result {
  readonly system: string
  readonly processes: number
  readonly round: number
  readonly jobsPerSecond: number
  /** jobs/s ÷ processes × concurrency ÷ delay */
  readonly ofIdeal: number
  /** backends of the children waiting on an advisory lock (the claim lock, or a group's lock), on average */
  readonly advisoryWaiting: number
  /** backends of the children waiting on any other lock, on average */
  readonly otherLockWaiting: number
  /** share of samples in which the schema's claim lock was held */
  readonly claimLockHeld: number
  /** backends of the children active (running a statement), on average */
  readonly active: number
  readonly claimCalls?: number
  readonly claimMsMean?: number
  readonly childCores: number
  readonly serverCores: number
  readonly load1: number
}

const parent = async () => {
  const admin = new pg.Pool({ connectionString: url, max: 2 })
  const sampler = new pg.Client({ connectionString: url })
  await sampler.connect()

  // set up every system's schema once
  const setups: Record<
    string,
    { schema?: string; enqueue: (n: number) => Promise<void>; finished: () => Promise<number>; reset: () => Promise<void> }
  > = {}
  const closers: Array<() => Promise<void>> = []
  for (const name of SYSTEMS.filter((x) => x.startsWith("jobtrack"))) {
    const schema = schemaOf(name)
    const definition = name === "jobtrack" ? io : ioGrouped
    if (!Object.values(setups).some((x) => x.schema === schema)) await admin.query(`drop schema if exists ${schema} cascade`)
    const scope = Effect.runSync(Scope.make())
    const store = await Effect.runPromise(Scope.provide(postgres({ connectionString: url, schema, max: 2 }), scope))
    const tracker = await Effect.runPromise(Tracker.make({ definitions: [io, ioGrouped] }).pipe(Effect.provideService(JobStore, store)))
    closers.push(() => Effect.runPromise(Scope.close(scope, Exit.void)))
    if (name === "jobtrack-group-locks") await admin.query(groupLockClaim(schema))
    setups[name] = {
      schema,
      enqueue: async (n) => {
        for (let i = 0; i < n; i += 1000) {
          const count = Math.min(1000, n - i)
          await Effect.runPromise(tracker.enqueueMany(definition, Array.from({ length: count }, (_, k) => ({ payload: { i: i + k } }))))
        }
      },
      finished: async () => Number((await admin.query(`select count(*) as n from ${schema}.jobs where status = 'completed'`)).rows[0].n),
      reset: async () => {
        await admin.query(`truncate ${schema}.jobs cascade`)
        await admin.query(`vacuum analyze ${schema}.jobs`)
      }
    }
  }
  if (SYSTEMS.includes("pg-boss")) {
    await admin.query(`drop schema if exists ${bossSchema} cascade`)
    const boss = new PgBoss({ connectionString: url, schema: bossSchema, max: 2, supervise: false, schedule: false })
    boss.on("error", () => {})
    await boss.start()
    await boss.createQueue(bossQueue, { notify: true, retryLimit: 0 } as never)
    closers.push(() => boss.stop({ graceful: false, close: true } as never))
    setups["pg-boss"] = {
      enqueue: async (n) => {
        for (let i = 0; i < n; i += 1000) {
          await boss.insert(bossQueue, Array.from({ length: Math.min(1000, n - i) }, (_, k) => ({ data: { i: i + k } })))
        }
      },
      finished: async () =>
        Number((await admin.query(`select count(*) as n from ${bossSchema}.job where name = $1 and state = 'completed'`, [bossQueue])).rows[0].n),
      reset: async () => {
        await boss.deleteAllJobs(bossQueue)
        await admin.query(`vacuum analyze ${bossSchema}.job`)
      }
    }
  }
  if (SYSTEMS.includes("graphile-worker")) {
    await admin.query(`drop schema if exists ${graphileSchema} cascade`)
    const pgPool = new pg.Pool({ connectionString: url, max: 2 })
    const utils = await makeWorkerUtils({ pgPool, schema: graphileSchema, logger: new Logger(() => () => {}) })
    await utils.migrate()
    closers.push(async () => {
      await utils.release()
      await pgPool.end()
    })
    let enqueued = 0
    setups["graphile-worker"] = {
      enqueue: async (n) => {
        for (let i = 0; i < n; i += 1000) {
          await utils.addJobs(Array.from({ length: Math.min(1000, n - i) }, (_, k) => ({ identifier: "io", payload: { i: i + k } })))
        }
        enqueued = n
      },
      // it deletes a job when it completes
      finished: async () =>
        enqueued - Number((await admin.query(`select count(*) as n from ${graphileSchema}._private_jobs`)).rows[0].n),
      reset: async () => {
        await admin.query(`delete from ${graphileSchema}._private_jobs`)
        await admin.query(`vacuum analyze ${graphileSchema}._private_jobs`)
      }
    }
  }

  const claimFn = async (schema: string) => {
    const r = await admin.query<{ calls: string; total: number }>(
      `select coalesce(sum(calls), 0) as calls, coalesce(sum(total_time), 0) as total from pg_stat_user_functions
       where schemaname = $1 and funcname = 'claim'`, [schema]
    )
    return { calls: Number(r.rows[0]!.calls), total: Number(r.rows[0]!.total) }
  }
  const backends = async () =>
    (await admin.query<{ pid: number }>(
      `select pid from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()`
    )).rows.map((r) => r.pid)

  const results: Array<Result> = []
  for (let round = 1; round <= ROUNDS; round++) {
    for (const processes of PROCESSES) {
      for (const system of SYSTEMS) {
        const setup = setups[system]!
        await setup.reset()
        const ideal = processes * CONCURRENCY * 1000 / DELAY_MS
        const backlog = Math.ceil(ideal * (WARMUP_S + SECONDS + 3))
        await setup.enqueue(backlog)
        await admin.query("checkpoint")
        const fleet = await spawnFleet(fileURLToPath(import.meta.url), ["child", system], processes)
        const children = fleet.children
        // the children's backends are idle: their function counters are flushed (at exit at the latest)
        const claims0 = await claimFn(schemaOf(system))
        const app = `scale_io_${system}`
        let samples = 0, advisory = 0, otherLock = 0, held = 0, active = 0
        let sampling = true
        const sampleLoop = (async () => {
          while (sampling) {
            const r = await sampler.query<{ adv: string; other: string; active: string; held: string }>(`
              select count(*) filter (where wait_event_type = 'Lock' and wait_event = 'advisory') as adv,
                count(*) filter (where wait_event_type = 'Lock' and wait_event <> 'advisory') as other,
                count(*) filter (where state = 'active') as active,
                (select count(*) from pg_locks l where l.locktype = 'advisory' and l.objsubid = 2 and l.granted
                   and l.database = (select oid from pg_database where datname = current_database())
                   and l.classid = ((hashtext('jobtrack.claim')::bigint + 4294967296) % 4294967296)::oid
                   and l.objid = ((hashtext($2)::bigint + 4294967296) % 4294967296)::oid) as held
              from pg_stat_activity where datname = current_database() and application_name = $1`, [app, schemaOf(system)])
            samples++
            advisory += Number(r.rows[0]!.adv)
            otherLock += Number(r.rows[0]!.other)
            active += Number(r.rows[0]!.active)
            held += Number(r.rows[0]!.held) > 0 ? 1 : 0
            await pause(25)
          }
        })()
        fleet.go()
        await pause(WARMUP_S * 1000)
        // the window: finished jobs, CPU of the children and of every backend of the database
        const pids = await backends()
        const server0 = new Map(pids.map((p) => [p, cpuMs(p)]))
        const child0 = children.map((c) => cpuMs(c.pid!))
        samples = advisory = otherLock = held = active = 0
        const done0 = await setup.finished()
        const t0 = performance.now()
        await pause(SECONDS * 1000)
        const done1 = await setup.finished()
        const secs = (performance.now() - t0) / 1000
        const childMs = children.reduce((sum, c, i) => sum + cpuMs(c.pid!) - child0[i]!, 0)
        let serverMs = 0
        for (const p of await backends()) serverMs += cpuMs(p) - (server0.get(p) ?? cpuMs(p))
        sampling = false
        await sampleLoop
        const s = { samples, advisory, otherLock, held, active }
        await fleet.stop()
        // the backends flush their function counters when they exit
        await pause(1500)
        const claims1 = await claimFn(schemaOf(system))
        const calls = claims1.calls - claims0.calls
        const jobsPerSecond = (done1 - done0) / secs
        const result: Result = {
          system,
          processes,
          round,
          jobsPerSecond: Math.round(jobsPerSecond),
          ofIdeal: Number((jobsPerSecond / ideal).toFixed(2)),
          advisoryWaiting: Number((s.advisory / s.samples).toFixed(2)),
          otherLockWaiting: Number((s.otherLock / s.samples).toFixed(2)),
          claimLockHeld: Number((s.held / s.samples).toFixed(2)),
          active: Number((s.active / s.samples).toFixed(2)),
          ...(system.startsWith("jobtrack") && calls > 0
            ? { claimCalls: calls, claimMsMean: Number(((claims1.total - claims0.total) / calls).toFixed(3)) }
            : {}),
          childCores: Number((childMs / 1000 / secs).toFixed(2)),
          serverCores: Number((serverMs / 1000 / secs).toFixed(2)),
          load1: Number(loadavg()[0]!.toFixed(1))
        }
        results.push(result)
        console.log(JSON.stringify(result))
      }
    }
  }

  console.log(`\nmedians of ${ROUNDS} rounds (delay ${DELAY_MS} ms, concurrency ${CONCURRENCY} per process, window ${SECONDS} s)`)
  console.log("| system | processes | jobs/s | of ideal | claim lock held | waiting on it | claim() ms | child cores | server cores |")
  console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
  for (const system of SYSTEMS) {
    for (const processes of PROCESSES) {
      const rs = results.filter((r) => r.system === system && r.processes === processes)
      const m = (f: (r: Result) => number | undefined) => median(rs.map(f).filter((x): x is number => x !== undefined))
      const range = (f: (r: Result) => number) => {
        const xs = rs.map(f)
        return `${Math.min(...xs).toLocaleString("en")}–${Math.max(...xs).toLocaleString("en")}`
      }
      const claimMs = m((r) => r.claimMsMean)
      console.log(
        `| ${system} | ${processes} | ${range((r) => r.jobsPerSecond)} | ${m((r) => r.ofIdeal).toFixed(2)} | ` +
          `${m((r) => r.claimLockHeld).toFixed(2)} | ${m((r) => r.advisoryWaiting).toFixed(2)} | ` +
          `${Number.isNaN(claimMs) ? "n/a" : claimMs.toFixed(2)} | ${m((r) => r.childCores).toFixed(2)} | ${m((r) => r.serverCores).toFixed(2)} |`
      )
    }
  }
  for (const close of closers) await close()
  await sampler.end()
  await admin.query(`drop schema if exists ${jobtrackSchema} cascade`)
  await admin.query(`drop schema if exists ${groupLocksSchema} cascade`)
  await admin.query(`drop schema if exists ${bossSchema} cascade`)
  await admin.query(`drop schema if exists ${graphileSchema} cascade`)
  await admin.end()
}

await (process.argv[2] === "child" ? child(process.argv[3]!) : parent())
