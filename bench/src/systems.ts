/**
 * The systems under benchmark behind one interface: jobtrack (PostgreSQL
 * store), pg-boss, graphile-worker, and raw `pg` as the floor.
 */
import { Effect, Exit, Schema, Scope } from "effect"
import { JobDefinition, JobStore, RetryPolicy, Runner, Tracker } from "@jobtrack/core"
import type { JobStoreShape } from "@jobtrack/core"
import { postgres } from "@jobtrack/adapter-kysely"
import { Logger, makeWorkerUtils, run as runGraphile } from "graphile-worker"
import type { Runner as GraphileRunner, WorkerUtils } from "graphile-worker"
import pg from "pg"
import { PgBoss } from "pg-boss"

export interface System {
  readonly name: string
  readonly enqueueOne: (i: number) => Promise<string>
  readonly enqueueBatch: (from: number, count: number) => Promise<void>
  /** Start workers calling `onStart(i)` at the start of each job; resolves once they run. */
  readonly startWorkers: (concurrency: number, onStart: (i: number) => void) => Promise<void>
  readonly stopWorkers: () => Promise<void>
  /** The job's view with its queue position (jobtrack only). */
  readonly view?: (id: string) => Promise<unknown>
  /** One progress write for a running job (undefined: the system has no progress API). */
  readonly progress?: (id: string, value: number) => Promise<void>
  /** Jobs to write progress on: enqueued and moved to running. */
  readonly runningJobs?: (count: number) => Promise<Array<string>>
  readonly getById: (id: string) => Promise<unknown>
  readonly reset: () => Promise<void>
  readonly close: () => Promise<void>
}

/**
 * W3: reset, enqueue `n` no-op jobs in batches of 1,000, then drain them with
 * workers of concurrency 10; jobs/s from the workers' start to the last job's
 * start, and how long the enqueue took.
 */
export const drainNoOp = async (s: System, n: number): Promise<{ readonly perS: number; readonly enqueueMs: number }> => {
  await s.reset()
  const e0 = performance.now()
  for (let i = 0; i < n; i += 1000) await s.enqueueBatch(i, Math.min(1000, n - i))
  const enqueueMs = performance.now() - e0
  let seen = 0
  let done!: () => void
  const all = new Promise<void>((r) => (done = r))
  const start = performance.now()
  await s.startWorkers(10, () => {
    if (++seen === n) done()
  })
  await all
  const secs = (performance.now() - start) / 1000
  await s.stopWorkers()
  return { perS: n / secs, enqueueMs }
}

const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect)

/** How a system is opened (every field optional: the defaults are the main process's). */
export interface SystemOptions {
  /**
   * Open the schema another process set up and leave it as it is: no drop, no
   * migration, and `close` drops nothing (a worker process of the
   * multi-process workload).
   */
  readonly attach?: boolean
  /** The size of the system's connection pool (default 12). */
  readonly max?: number
  /** jobtrack only: the store the tracker and runners use, given the one opened (a probe's counters). */
  readonly wrapStore?: (store: JobStoreShape) => JobStoreShape
}

/** The systems by name, each opened on its default schema: what a worker process opens. */
export const systemsByName: Record<string, (url: string, options?: SystemOptions) => Promise<System>> = {
  jobtrack: (url, options) => jobtrack(url, "bench_jobtrack", options),
  "pg-boss": (url, options) => pgBoss(url, options),
  "graphile-worker": (url, options) => graphileWorker(url, options),
  "raw pg": (url, options) => rawPg(url, options)
}

export const jobtrack = async (url: string, schema = "bench_jobtrack", options: SystemOptions = {}): Promise<System> => {
  const admin = new pg.Pool({ connectionString: url, max: 2 })
  if (!options.attach) await admin.query(`drop schema if exists ${schema} cascade`)
  let onStart: (i: number) => void = () => {}
  const noop = JobDefinition.make({
    type: "noop",
    payload: Schema.Struct({ i: Schema.Int }),
    retry: RetryPolicy.none,
    handler: ({ i }) => Effect.sync(() => onStart(i))
  })
  const scope = Effect.runSync(Scope.make())
  const opened: JobStoreShape = await run(
    Scope.provide(postgres({ connectionString: url, schema, max: options.max ?? 12, migrate: !options.attach }), scope)
  )
  const store = options.wrapStore ? options.wrapStore(opened) : opened
  const tracker = await run(Tracker.make({ definitions: [noop] }).pipe(Effect.provideService(JobStore, store)))
  let runnerScope: Scope.Closeable | undefined
  return {
    name: "jobtrack",
    enqueueOne: async (i) => (await run(tracker.enqueue(noop, { i }))).job.id,
    enqueueBatch: async (from, count) => {
      await run(tracker.enqueueMany(noop, Array.from({ length: count }, (_, k) => ({ payload: { i: from + k } }))))
    },
    startWorkers: async (concurrency, f) => {
      onStart = f
      runnerScope = Effect.runSync(Scope.make())
      await run(
        Scope.provide(
          Runner.make({ definitions: [noop], concurrency, pollInterval: "1 second", prune: false })
            .pipe(Effect.provideService(JobStore, store)),
          runnerScope
        )
      )
    },
    stopWorkers: async () => {
      if (runnerScope) await run(Scope.close(runnerScope, Exit.void))
      runnerScope = undefined
    },
    runningJobs: async (count) => {
      await run(tracker.enqueueMany(noop, Array.from({ length: count }, (_, i) => ({ payload: { i } }))))
      const claimed = await run(
        store.claim({ queues: ["default"], types: ["noop"], workerId: "bench", limit: count, leaseMs: 600_000 })
      )
      return claimed.map((j) => `${j.id}:${j.token}`)
    },
    progress: async (lease, value) => {
      const [id, token] = lease.split(":") as [string, string]
      await run(store.progress({ id, token: Number(token) }, value, `step ${value}`))
    },
    getById: (id) => run(store.get(id)),
    view: (id) => run(tracker.get(id)),
    reset: async () => {
      // cascade: the tables that reference jobs (job_logs, job_steps) go with them
      await admin.query(`truncate ${schema}.jobs cascade`)
      await admin.query(`vacuum analyze ${schema}.jobs`)
    },
    close: async () => {
      await run(Scope.close(scope, Exit.void))
      await admin.end()
    }
  }
}

export const pgBoss = async (url: string, options: SystemOptions = {}): Promise<System> => {
  const schema = "bench_pgboss"
  const admin = new pg.Pool({ connectionString: url, max: 2 })
  if (!options.attach) await admin.query(`drop schema if exists ${schema} cascade`)
  const boss = new PgBoss({ connectionString: url, schema, max: options.max ?? 12, useListenNotify: true, supervise: false, schedule: false })
  boss.on("error", () => {})
  await boss.start()
  const queue = "noop"
  if (!options.attach) await boss.createQueue(queue, { notify: true, retryLimit: 0 } as never)
  let workers: Array<string> = []
  return {
    name: "pg-boss",
    enqueueOne: async (i) => (await boss.send(queue, { i }))!,
    enqueueBatch: async (from, count) => {
      await boss.insert(queue, Array.from({ length: count }, (_, k) => ({ data: { i: from + k } })))
    },
    startWorkers: async (concurrency, onStart) => {
      // pg-boss's throughput setting: fetch `concurrency` jobs at once, keep fetching while batches are full.
      // Its fastest way to have `concurrency` jobs in flight: measured in session 5 (bench/src/workloads/
      // peerConfigs.ts) against 2 workers × batches of 5 (`localConcurrency`: no faster) and 5 × 2 (slower);
      // with batches of 1 a worker waits its polling interval after every job. One worker's loop is serial
      // (fetch, handlers, complete, fetch), so its jobs/s is 10 ÷ two round trips: it moves with the machine's latency.
      const id = await boss.work<{ i: number }>(
        queue,
        { batchSize: concurrency, burstWhenBatchFull: true, pollingIntervalSeconds: 1, notifyPollingIntervalSeconds: 1 } as never,
        async (jobs: Array<{ data: { i: number } }>) => {
          for (const job of jobs) onStart(job.data.i)
        }
      )
      workers = [id]
    },
    stopWorkers: async () => {
      for (const id of workers) await boss.offWork(queue, { id } as never)
      workers = []
    },
    getById: (id) => boss.getJobById(queue, id),
    reset: async () => {
      // a fresh table, as jobtrack's and raw pg's resets leave theirs (until session 5: `deleteAllJobs`,
      // whose batched DELETE left the pages of the history workload's 1,000,000 rows to every later workload)
      await admin.query(`truncate ${schema}.job`)
      await admin.query(`vacuum analyze`)
    },
    close: async () => {
      await boss.stop({ graceful: false, close: true } as never)
      await admin.end()
    }
  }
}

export const graphileWorker = async (url: string, options: SystemOptions = {}): Promise<System> => {
  const schema = "bench_graphile"
  const admin = new pg.Pool({ connectionString: url, max: 2 })
  if (!options.attach) await admin.query(`drop schema if exists ${schema} cascade`)
  const pgPool = new pg.Pool({ connectionString: url, max: options.max ?? 12 })
  pgPool.on("error", () => {}) // an idle client's error (a server restart) is not the benchmark's
  const logger = new Logger(() => () => {}) // silent, like the others
  const utils: WorkerUtils = await makeWorkerUtils({ pgPool, schema, logger })
  if (!options.attach) await utils.migrate()
  let runner: GraphileRunner | undefined
  return {
    name: "graphile-worker",
    enqueueOne: async (i) => (await utils.addJob("noop", { i })).id,
    enqueueBatch: async (from, count) => {
      await utils.addJobs(Array.from({ length: count }, (_, k) => ({ identifier: "noop", payload: { i: from + k } })))
    },
    startWorkers: async (concurrency, onStart) => {
      runner = await runGraphile({
        pgPool,
        schema,
        concurrency,
        noHandleSignals: true,
        pollInterval: 1000,
        logger,
        // its docs' batching for throughput (worker.graphile.org/docs/performance#batching), at their
        // starting point `concurrency + 1`: jobs fetched and locked a batch at a time, handed to the workers
        // without a round trip each (since session 5; peerConfigs.ts: as fast as without on a quiet machine,
        // faster on a loaded one; a queue of 20 is faster still but locks 10 jobs ahead of the workers). Not
        // `completeJobBatchDelay`: it returns before the completion is committed, which the others may not.
        preset: { worker: { localQueue: { size: concurrency + 1 } } },
        taskList: { noop: async (payload) => onStart((payload as { i: number }).i) }
      })
    },
    stopWorkers: async () => {
      await runner?.stop()
      runner = undefined
    },
    getById: (id) => utils.withPgClient((c) => c.query(`select * from ${schema}.jobs where id = $1`, [id]).then((r) => r.rows[0])),
    reset: async () => {
      // a fresh table, like the others' (until session 5: a DELETE)
      await admin.query(`truncate ${schema}._private_jobs`)
      await admin.query(`vacuum analyze`)
    },
    close: async () => {
      await utils.release()
      await pgPool.end()
      await admin.end()
    }
  }
}

/**
 * The floor: what `pg` does with a plain queue table and primary-key access.
 * Its workers do the least a durable queue must (issue 13, item 3): claim up
 * to the free slots with `FOR UPDATE SKIP LOCKED` from a partial index of
 * pending jobs (one statement), run the handlers, and complete them with one
 * `UPDATE` per batch — completions that finish while a write is in flight go
 * into the next, and a job counts as done only once its completion is
 * committed (synchronous commit). An enqueue NOTIFYs; workers LISTEN, and
 * poll every second as the fallback. No leases, retries, groups, priorities
 * or progress: what a queue could not do less than.
 */
export const rawPg = async (url: string, options: SystemOptions = {}): Promise<System> => {
  const pool = new pg.Pool({ connectionString: url, max: options.max ?? 12 })
  if (!options.attach) {
    await pool.query(`drop schema if exists bench_raw cascade`)
    await pool.query(`create schema bench_raw`)
    await pool.query(`create table bench_raw.jobs (id bigserial primary key, status text not null default 'pending',
      payload jsonb not null, progress real not null default 0, progress_message text)`)
    await pool.query(`create index jobs_pending on bench_raw.jobs (id) where status = 'pending'`)
  }
  let stop: (() => Promise<void>) | undefined
  return {
    name: "raw pg",
    enqueueOne: async (i) =>
      String((await pool.query(
        `with j as (insert into bench_raw.jobs (payload) values ($1) returning id)
         select id, pg_notify('bench_raw', '') from j`,
        [JSON.stringify({ i })]
      )).rows[0].id),
    enqueueBatch: async (from, count) => {
      await pool.query(
        `with j as (insert into bench_raw.jobs (payload) select x from jsonb_array_elements($1::jsonb) x returning 1)
         select pg_notify('bench_raw', '') from (select 1 from j limit 1) one`,
        [JSON.stringify(Array.from({ length: count }, (_, k) => ({ i: from + k })))]
      )
    },
    startWorkers: async (concurrency, onStart) => {
      const listener = new pg.Client({ connectionString: url })
      await listener.connect()
      await listener.query("listen bench_raw")
      let stopped = false
      let running = 0
      // a wake-up (a slot freed, a job announced); many before the loop looks count as one
      let signalled = false
      let wake: () => void = () => {}
      const kick = () => {
        signalled = true
        wake()
      }
      listener.on("notification", kick)
      // completions: one UPDATE per batch, the next batch gathered while one is in flight
      const done: Array<string> = []
      let writing = false
      const flush = async () => {
        if (writing) return
        writing = true
        try {
          while (done.length > 0) {
            const batch = done.splice(0, done.length)
            await pool.query(`update bench_raw.jobs set status = 'completed' where id = any($1::bigint[])`, [batch])
          }
        } finally {
          writing = false
        }
      }
      const run = async (job: { id: string; payload: { i: number } }) => {
        onStart(job.payload.i)
        running--
        kick()
        done.push(job.id)
        await flush()
      }
      const loop = (async () => {
        while (!stopped) {
          const free = concurrency - running
          if (free > 0) {
            const { rows } = await pool.query(
              `update bench_raw.jobs set status = 'active' where id in (
                 select id from bench_raw.jobs where status = 'pending' order by id limit $1 for update skip locked
               ) returning id, payload`,
              [free]
            )
            running += rows.length
            for (const job of rows) void run(job)
            if (rows.length === free) continue
          }
          if (signalled) {
            signalled = false
            continue
          }
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, 1000)
            wake = () => {
              clearTimeout(timer)
              resolve()
            }
          })
          wake = () => {}
          signalled = false
        }
      })()
      stop = async () => {
        stopped = true
        kick()
        await loop
        // the last completions committed
        while (running > 0 || done.length > 0 || writing) {
          void flush()
          await new Promise((r) => setTimeout(r, 1))
        }
        await listener.end()
      }
    },
    stopWorkers: async () => {
      await stop?.()
      stop = undefined
    },
    runningJobs: async (count) => {
      const r = await pool.query(`insert into bench_raw.jobs (payload) select '{}'::jsonb from generate_series(1, $1) returning id`, [count])
      return r.rows.map((row: { id: string }) => String(row.id))
    },
    progress: async (id, value) => {
      await pool.query(`update bench_raw.jobs set progress = $2, progress_message = $3 where id = $1`, [id, value, `step ${value}`])
    },
    getById: (id) => pool.query(`select * from bench_raw.jobs where id = $1`, [id]).then((r) => r.rows[0]),
    reset: async () => {
      await pool.query(`truncate bench_raw.jobs`)
      await pool.query(`vacuum analyze bench_raw.jobs`)
    },
    close: async () => {
      if (!options.attach) await pool.query(`drop schema if exists bench_raw cascade`)
      await pool.end()
    }
  }
}
