import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { Effect, Schema } from "effect"
import { JobDefinition, Jobtrack, RetryPolicy } from "@jobtrack/core"
import type { JobView } from "@jobtrack/core"
import { layerPostgres, migrate } from "@jobtrack/adapter-kysely"
import { Kysely, PostgresDialect, sql } from "kysely"
import pg from "pg"
import { databaseUrl, randomSchema, until } from "./databases.js"

const url = databaseUrl()


const steps = JobDefinition.make({
  type: "steps",
  payload: Schema.Struct({ steps: Schema.Int, ms: Schema.Int }),
  retry: RetryPolicy.fixed("200 millis", 5),
  handler: ({ ms, steps }, ctx) =>
    Effect.gen(function*() {
      for (let i = 1; i <= steps; i++) {
        yield* Effect.sleep(ms)
        yield* ctx.progress((i / steps) * 100, `step ${i}`)
      }
    })
})

describe.skipIf(!url)("PostgreSQL store with runners", { tags: ["postgres"] }, () => {
  const schema = randomSchema("jt_int")
  let db: Kysely<unknown>
  const open: Array<Jobtrack.Jobtrack> = []
  const make = (runner: boolean, pollMs = 60_000) => {
    const jobs = Jobtrack.make({
      store: layerPostgres({ connectionString: url!, schema, migrate: false, max: 4 }),
      definitions: [steps],
      runner: { pollInterval: pollMs, progressInterval: "20 millis", concurrency: 10 },
      watchPollInterval: "60 seconds"
    })
    open.push(jobs)
    return runner ? jobs.start().then(() => jobs) : Promise.resolve(jobs)
  }

  beforeAll(async () => {
    const pool = new pg.Pool({ connectionString: url!, max: 2 })
    db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool }) })
    await migrate(db, { schema })
    await sql.raw(`create table "${schema}".records (id serial primary key, name text)`).execute(db)
  })
  afterAll(async () => {
    for (const jobs of open) await jobs.close()
    await sql.raw(`drop schema "${schema}" cascade`).execute(db)
    await db.destroy()
  })

  it("a runner in another process is woken by an enqueue's notification, not by its 60 s poll", async () => {
    const producer = await make(false)
    await make(true) // polls only every 60 s: only a notification can wake it within the wait below
    // a first job done proves the runner is past its start-up claim and waiting
    const first = (await producer.enqueue(steps, { steps: 1, ms: 1 })).job
    await until(() => producer.get(first.id), (v) => v.status === "completed", 10_000, "first job done")
    const { job } = await producer.enqueue(steps, { steps: 1, ms: 1 })
    const done = await until(() => producer.get(job.id), (v) => v.status === "completed", 10_000, "woken by the enqueue")
    assert.isNotNull(done.startedAt)
  })

  it("watch sees progress and status made by another process, through notifications", async () => {
    const watcher = await make(false)
    const { job } = await watcher.enqueue(steps, { steps: 5, ms: 150 })
    const views: Array<JobView> = []
    for await (const v of watcher.watch(job.id)) views.push(v)
    assert.strictEqual(views.at(-1)!.status, "completed")
    const progress = new Set(views.map((v) => v.progress).filter((p) => p > 0 && p < 100))
    assert.isAtLeast(progress.size, 3)
  })

  it("enqueue in a rolled-back transaction leaves no job; in a committed one the job runs", async () => {
    const jobs = await make(false)
    let rolledBackId: string | undefined
    await db.transaction().execute(async (trx) => {
      await sql`insert into ${sql.id(schema, "records")} (name) values ('a.pdf')`.execute(trx)
      rolledBackId = (await jobs.enqueue(steps, { steps: 1, ms: 1 }, { transaction: trx, key: "a.pdf" })).job.id
      throw new Error("rollback")
    }).then(
      () => assert.fail("the transaction committed"),
      (e: Error) => assert.strictEqual(e.message, "rollback") // nothing else may have failed
    )
    assert.isString(rolledBackId, "the enqueue inside the transaction did not return a job")
    const gone = await jobs.get(rolledBackId!).catch((e: { _tag: string }) => e._tag)
    assert.strictEqual(gone, "JobNotFound")
    const records = await sql<{ n: string }>`select count(*) as n from ${sql.id(schema, "records")}`.execute(db)
    assert.strictEqual(Number(records.rows[0]!.n), 0)

    const committed = await db.transaction().execute(async (trx) => {
      await sql`insert into ${sql.id(schema, "records")} (name) values ('b.pdf')`.execute(trx)
      return (await jobs.enqueue(steps, { steps: 1, ms: 1 }, { transaction: trx, key: "b.pdf" })).job
    })
    const done = await until(() => jobs.get(committed.id), (v) => v.status === "completed", 10_000, "committed job done")
    assert.strictEqual(done.key, "b.pdf")
  })
})

describe.skipIf(!url)("PostgreSQL connections terminated while runners work", { tags: ["postgres"] }, () => {
  const database = `jt_restart_${Math.random().toString(36).slice(2, 8)}`
  let admin: pg.Pool
  let dbUrl: string
  beforeAll(async () => {
    admin = new pg.Pool({ connectionString: url!, max: 2 })
    await admin.query(`create database ${database}`)
    const u = new URL(url!)
    u.pathname = `/${database}`
    dbUrl = u.toString()
  })
  afterAll(async () => {
    await admin.query(`drop database if exists ${database} with (force)`)
    await admin.end()
  })

  it("runners reconnect and carry on; no job is lost", async () => {
    const jobs = Jobtrack.make({
      store: layerPostgres({ connectionString: dbUrl, max: 6 }),
      definitions: [steps],
      runner: { pollInterval: "100 millis", concurrency: 10, lease: "5 seconds" }
    })
    try {
      const total = 400
      await jobs.enqueueMany(steps, Array.from({ length: total }, () => ({ payload: { steps: 2, ms: 10 } })))
      await jobs.start()
      const completed = async () => (await jobs.stats()).counts.completed
      const statsOrNone = () =>
        jobs.stats().catch((e: { _tag?: string }) => {
          if (e?._tag === "StoreError") return undefined
          throw e
        })
      const completedOrNone = async () => (await statsOrNone())?.counts.completed
      await until(completed, (n) => n >= 50, 20_000, "50 completed")
      for (let round = 0; round < 3; round++) {
        const killed = await admin.query(
          `select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()`,
          [database]
        )
        assert.isAtLeast(killed.rowCount ?? 0, 1)
        // the runners reconnected and completed more jobs before the next termination
        const before = await until(() => completedOrNone(), (n) => n !== undefined, 20_000, "stats after reconnect")
        await until(() => completedOrNone(), (n) => n !== undefined && (n > before! || n === total), 20_000, "progress after reconnect")
      }
      // while connections are being re-established, a read may fail with a StoreError (only that)
      const stats = await until(() => statsOrNone(), (s) => s?.counts.completed === total, 60_000, "all completed")
      assert.strictEqual(stats!.counts.failed, 0)
      assert.strictEqual(stats!.counts.pending + stats!.counts.processing + stats!.counts.retrying, 0)
    } finally {
      await jobs.close()
    }
  }, 90_000)
})
