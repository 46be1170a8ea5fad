/**
 * Group limits and cancels across OS processes sharing one PostgreSQL: the
 * promises that only hold if every process sees the others' work.
 */
import { spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import { fileURLToPath } from "node:url"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { layerPostgres, migrate } from "@jobtrack/adapter-kysely"
import { JobId, Jobtrack } from "@jobtrack/core"
import { Kysely, PostgresDialect, sql } from "kysely"
import pg from "pg"
import { databaseUrl, randomSchema, until } from "./databases.js"

const url = databaseUrl()
const fixture = fileURLToPath(new URL("./fixtures/group-worker.ts", import.meta.url))

describe.skipIf(!url)("several OS processes on one PostgreSQL: groups and cancels", { tags: ["postgres"] }, () => {
  const schema = randomSchema("jt_multi")
  let pool: pg.Pool
  let db: Kysely<unknown>
  let jobs: Jobtrack.Jobtrack
  const workers = new Map<string, ChildProcess>()
  const q = async <R extends pg.QueryResultRow>(text: string, params: Array<unknown> = []) =>
    (await pool.query<R>(text.replaceAll("$schema", `"${schema}"`), params)).rows

  const start = (id: string): Promise<ChildProcess> =>
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [fixture, url!, schema, id], { stdio: ["ignore", "pipe", "pipe"] })
      let err = ""
      child.stderr!.on("data", (d) => (err += d))
      child.stdout!.on("data", (d: Buffer) => {
        if (d.toString().includes("ready")) resolve(child)
      })
      child.once("exit", (code) => reject(new Error(`worker ${id} exited (${code}) before it was ready: ${err}`)))
      workers.set(id, child)
    })

  /** Insert jobs as a host would (one statement), so that no process has a head start. */
  const insert = (items: ReadonlyArray<{ type: string; payload: object; groupKey?: string; priority?: number }>) =>
    q(
      `insert into $schema.jobs (id, type, queue, payload, max_attempts, priority, run_at, group_key, group_limit,
         status, created_at, updated_at)
       select x.id, x.type, 'default', x.payload, 1, x.priority, now(), x.group_key, x.group_limit, 'pending', now(), now()
       from jsonb_to_recordset($1::jsonb) as x(id uuid, type text, payload jsonb, group_key text, group_limit int, priority int)`,
      [JSON.stringify(items.map((i) => ({
        id: JobId.make(),
        type: i.type,
        payload: i.payload,
        group_key: i.groupKey ?? null,
        group_limit: i.groupKey ? 2 : null,
        priority: i.priority ?? 0
      })))]
    )

  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: url!, max: 3 })
    db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool }) })
    await migrate(db, { schema })
    await q(`create table $schema.active (job_id uuid primary key, owner text, worker text)`)
    await q(`create table $schema.peaks (job_id uuid, owner text, worker text, active int)`)
    await q(`create table $schema.stopped (job_id uuid, worker text, reason text)`)
    await Promise.all(["a", "b", "c"].map(start))
    jobs = Jobtrack.make({ store: layerPostgres({ connectionString: url!, schema, migrate: false, max: 2 }), definitions: [] })
  }, 60_000)
  afterAll(async () => {
    await jobs?.close()
    for (const child of workers.values()) {
      if (child.exitCode === null) {
        child.kill("SIGTERM")
        await new Promise((r) => child.once("exit", r))
      }
    }
    await sql.raw(`drop schema "${schema}" cascade`).execute(db)
    await db.destroy()
  })

  it("group limit 2 holds across 3 processes: never 3 of one owner at once, yet both places are used", async () => {
    await insert([
      ...Array.from({ length: 24 }, () => ({ type: "grouped", payload: { owner: "ann", ms: 60 }, groupKey: "ann", priority: 1 })),
      ...Array.from({ length: 12 }, () => ({ type: "grouped", payload: { owner: "bob", ms: 60 }, groupKey: "bob" }))
    ])
    await until(
      () => q<{ n: string }>(`select count(*) as n from $schema.jobs where type = 'grouped' and status = 'completed'`),
      (r) => Number(r[0]!.n) === 36,
      60_000,
      "all grouped jobs completed"
    )
    const peaks = await q<{ owner: string; peak: number; workers: number }>(
      `select owner, max(active)::int as peak, count(distinct worker)::int as workers from $schema.peaks group by owner order by owner`
    )
    // ann's jobs come first in claim order (higher priority), so three idle single-slot processes all reach for them:
    // exactly two get one (the limit), and each of those is a different process
    const ann = peaks.find((p) => p.owner === "ann")!
    const bob = peaks.find((p) => p.owner === "bob")!
    assert.strictEqual(ann.peak, 2)
    assert.isAtLeast(ann.workers, 2)
    assert.isAtMost(bob.peak, 2)
  }, 90_000)

  it("a cancel from another process stops the job where it runs: its signal aborts and the job ends cancelled", async () => {
    await insert([{ type: "hold", payload: {} }])
    const [held] = await until(
      () => q<{ id: string; locked_by: string }>(`select id, locked_by from $schema.jobs where type = 'hold' and status = 'processing'`),
      (r) => r.length === 1,
      20_000,
      "hold job running"
    )
    const requested = await jobs.cancel(held!.id)
    assert.strictEqual(requested.status, "processing")
    assert.isTrue(requested.cancelRequested)
    const done = await until(() => jobs.get(held!.id), (v) => v.status === "cancelled", 20_000, "cancelled by its holder")
    assert.isNotNull(done.completedAt)
    const stopped = await q<{ worker: string; reason: string }>(`select worker, reason from $schema.stopped where job_id = $1`, [held!.id])
    assert.deepStrictEqual(stopped.map((s) => [s.worker, s.reason]), [[held!.locked_by, "AbortError"]])
    assert.strictEqual(workers.get(held!.locked_by)!.exitCode, null, "the holder process lives on")
  }, 60_000)
})
