/**
 * Change notifications are best effort: a NOTIFY sent while a process's
 * LISTEN connection is down is lost. These tests kill that connection with
 * pg_terminate_backend and check that nothing depends on the lost message:
 * after the listener is back, a cancel still reaches the running job (in
 * another OS process), a watcher still sees the change, and the reconnection
 * backoff starts afresh after every successful reconnection.
 */
import { spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import { fileURLToPath } from "node:url"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { Effect, Exit, Fiber, Schema, Scope, Stream } from "effect"
import { JobDefinition, JobStore, RetryPolicy, Tracker } from "@jobtrack/core"
import type { JobView } from "@jobtrack/core"
import { KyselyStore, migrate, Notifier } from "@jobtrack/adapter-kysely"
import { Kysely, PostgresDialect, sql } from "kysely"
import pg from "pg"
import { databaseUrl, randomSchema, until } from "./databases.js"

const url = databaseUrl()
const holder = fileURLToPath(new URL("./fixtures/holder.ts", import.meta.url))

const hold = JobDefinition.make({
  type: "hold",
  payload: Schema.Struct({}),
  retry: RetryPolicy.none,
  handler: () => Effect.never
})

/** `url` with an application_name, which tells this process's LISTEN session from the others'. */
const named = (base: string, name: string) => `${base}${base.includes("?") ? "&" : "?"}application_name=${name}`

describe.skipIf(!url)("the LISTEN connection is lost (PostgreSQL)", { tags: ["postgres"] }, () => {
  const schema = randomSchema("jt_listen")
  const channel = `jobtrack:${schema}`
  let pool: pg.Pool
  let db: Kysely<unknown>
  const scope = Effect.runSync(Scope.make())
  let tracker: Tracker.TrackerShape
  const children: Array<ChildProcess> = []
  const q = async <R extends pg.QueryResultRow>(text: string, params: Array<unknown> = []) =>
    (await pool.query<R>(text, params)).rows
  const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect)

  /** The LISTEN sessions on our channel opened under `app`. */
  const listeners = (app: string) =>
    q<{ pid: number; started: Date }>(
      `select pid, backend_start as started from pg_stat_activity where application_name = $1 and query = $2`,
      [app, `LISTEN "${channel}"`]
    )
  /** Terminate the LISTEN session of `app`; resolves once a new one is listening, with its start time. */
  const dropListener = async (app: string, withinMs: number, between?: () => Promise<void>) => {
    const [old] = await until(() => listeners(app), (r) => r.length === 1, 5_000, "a listener")
    await q(`select pg_terminate_backend($1)`, [old!.pid])
    await between?.()
    const [back] = await until(() => listeners(app), (r) => r.length === 1 && r[0]!.pid !== old!.pid, withinMs, "listener back")
    return back!
  }

  const startHolder = (app: string): Promise<ChildProcess> =>
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [holder, named(url!, app), schema], { stdio: ["ignore", "pipe", "pipe"] })
      children.push(child)
      let err = ""
      child.stderr!.on("data", (d) => (err += d))
      child.stdout!.on("data", (d: Buffer) => {
        if (d.toString().includes("ready")) resolve(child)
      })
      child.once("exit", (code) => reject(new Error(`holder exited (${code}) before it was ready: ${err}`)))
    })

  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: url!, max: 4 })
    pool.on("error", () => {})
    db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool }) })
    await migrate(db, { schema })
    // this process hears nothing: its reads below are its own
    const store = await run(Scope.provide(KyselyStore.make({ db, schema }), scope))
    tracker = await run(Tracker.make({ definitions: [hold] }).pipe(Effect.provideService(JobStore, store)))
  })
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill("SIGKILL")
    await run(Scope.close(scope, Exit.void))
    await sql.raw(`drop schema "${schema}" cascade`).execute(db)
    await db.destroy()
  })

  it("a cancel sent while another process's listener was down reaches its running job once the listener is back", async () => {
    const app = `jt_holder_${schema}`
    await startHolder(app)
    // The cancel must commit while the holder cannot hear it. If its listener came back
    // first (it may, within ~100 ms), the NOTIFY was delivered and proves nothing: again.
    for (let tries = 1; ; tries++) {
      const { job } = await run(tracker.enqueue(hold, {}))
      await until(() => run(tracker.get(job.id)), (v) => v.status === "processing", 10_000, "job claimed")
      let cancelledAt = new Date(0)
      const back = await dropListener(app, 10_000, async () => {
        await run(tracker.cancel(job.id))
        cancelledAt = (await q<{ now: Date }>(`select clock_timestamp() as now`))[0]!.now
      })
      if (back.started <= cancelledAt) {
        await until(() => run(tracker.get(job.id)), (v) => v.status === "cancelled", 5_000, "cancelled")
        assert.isBelow(tries, 5, "the cancel never landed while the listener was down")
        continue
      }
      // The holder heartbeats every 30 s: only a re-read after reconnecting can tell it now.
      const final = await until(() => run(tracker.get(job.id)), (v) => v.status === "cancelled", 2_000, "cancelled after the listener is back")
      assert.strictEqual(final.status, "cancelled")
      assert.isFalse(final.cancelRequested)
      return
    }
  }, 60_000)

  it("the reconnection backoff starts afresh after each successful reconnection: 8 drops in a row, each back within 2.5 s", async () => {
    const app = `jt_drops_${schema}`
    await startHolder(app)
    // without a reset the pauses double: 100, 200, 400, 800, 1600, 3200, 5000 ms…
    for (let drop = 1; drop <= 8; drop++) await dropListener(app, 2_500)
  }, 60_000)

  it("a watcher whose listener was down sees the change made meanwhile once the listener is back, not at its next poll", async () => {
    const app = `jt_watch_${schema}`
    const watched = await run(
      Scope.provide(KyselyStore.make({ db, schema, notifier: Notifier.postgres(named(url!, app)) }), scope)
    )
    const watcher = await run(
      Tracker.make({ definitions: [hold], watchPollInterval: "60 seconds" }).pipe(Effect.provideService(JobStore, watched))
    )
    const { job } = await run(tracker.enqueue(hold, {}, { runAt: new Date(Date.now() + 3_600_000) }))
    const seen: Array<JobView> = []
    const fiber = Effect.runFork(watcher.watch(job.id).pipe(Stream.runForEach((v) => Effect.sync(() => seen.push(v)))))
    await until(async () => seen.length, (n) => n === 1, 5_000, "first view")
    for (let tries = 1; ; tries++) {
      const views = seen.length
      let changedAt = new Date(0)
      const back = await dropListener(app, 10_000, async () => {
        await q(`update "${schema}".jobs set priority = priority + 1, updated_at = now() where id = $1`, [job.id])
        changedAt = (await q<{ now: Date }>(`select clock_timestamp() as now`))[0]!.now
      })
      if (back.started > changedAt) {
        await until(async () => seen.length, (n) => n > views, 2_000, "the watcher re-read after the listener came back")
        break
      }
      assert.isBelow(tries, 5, "the change never landed while the listener was down")
    }
    await run(Fiber.interrupt(fiber))
  }, 60_000)
})
