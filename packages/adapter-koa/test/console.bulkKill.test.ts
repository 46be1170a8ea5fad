/**
 * An action by filter survives the death of the process running it (issue
 * 15, "Actions"): a bulk cancel of 12,000 jobs runs in a child process, which
 * is SIGKILLed mid-way (held in its 7th chunk by a row lock the test takes,
 * so "mid-way" is certain, not timed); another process recovers the bulk
 * job when its lease expires, runs it again from the start, and finishes it.
 * A trigger records every job's move to cancelled: each matching job moved
 * exactly once, no other job moved.
 */
import { spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import { fileURLToPath } from "node:url"
import { Effect, Layer } from "effect"
import { JobId, JobStore, Jobtrack } from "@jobtrack/core"
import { ConsoleApi } from "@jobtrack/adapter-koa"
import { migrate, postgres } from "@jobtrack/adapter-kysely"
import { Kysely, PostgresDialect } from "kysely"
import pg from "pg"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { postgresUrl } from "../../../scripts/test-env.js"
import { eventually } from "./consoleServer.js"

const url = postgresUrl()
const worker = fileURLToPath(new URL("./fixtures/bulk-worker.ts", import.meta.url))
const N = 12_000

const start = (schema: string, id: string): Promise<ChildProcess> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [worker, url!, schema, id], { stdio: ["ignore", "pipe", "pipe"] })
    let err = ""
    child.stderr!.on("data", (d) => (err += d))
    child.stdout!.on("data", (d: Buffer) => d.toString().includes("ready") && resolve(child))
    child.once("exit", (code) => reject(new Error(`bulk worker ${id} exited (${code}) before it was ready: ${err}`)))
  })

describe.skipIf(!url)("a bulk action whose process is killed mid-way", { tags: ["postgres"] }, () => {
  const schema = `jt_bulkkill_${Math.random().toString(36).slice(2, 10)}`
  let pool: pg.Pool
  let jobs: Jobtrack.Jobtrack
  const children: Array<ChildProcess> = []
  const q = async <R extends pg.QueryResultRow>(text: string, params: Array<unknown> = []) =>
    (await pool.query<R>(text.replaceAll("$schema", `"${schema}"`), params)).rows
  const count = async (text: string, params: Array<unknown> = []) => Number((await q<{ n: string }>(text, params))[0]!.n)

  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: url!, max: 4 })
    await migrate(new Kysely<unknown>({ dialect: new PostgresDialect({ pool }) }), { schema })
    // every move to cancelled, as it commits
    await q(`create table $schema.handled (job_id uuid not null)`)
    await q(`create function $schema.record_handled() returns trigger language plpgsql as $fn$
      begin insert into $schema.handled (job_id) values (new.id); return null; end $fn$`)
    await q(`create trigger jobs_handled after update on $schema.jobs for each row
      when (old.status is distinct from new.status and new.status = 'cancelled') execute function $schema.record_handled()`)
    jobs = Jobtrack.make({ store: Layer.effect(JobStore, postgres({ connectionString: url!, schema, migrate: false, max: 2 })), definitions: [] })
  }, 60_000)
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill("SIGKILL")
    await jobs?.close()
    await q(`drop schema if exists $schema cascade`)
    await pool.end()
  })

  it("SIGKILL during a bulk cancel by filter: another process finishes it, every matching job cancelled exactly once", async () => {
    // N matching jobs in id order (what the chunks follow), and 100 of another type that must stay pending
    const row = (type: string) => ({ id: JobId.make(), type, queue: "default", payload: {}, max_attempts: 1, run_at: new Date(0).toISOString() })
    const matching = Array.from({ length: N }, () => row("idle"))
    await q(
      `insert into $schema.jobs (id, type, queue, payload, max_attempts, priority, run_at, status, created_at, updated_at)
       select x.id, x.type, x.queue, x.payload, x.max_attempts, 0, x.run_at, 'pending', now() - interval '1 minute', now()
       from jsonb_to_recordset($1::jsonb) as x(id uuid, type text, queue text, payload jsonb, max_attempts int, run_at timestamptz)`,
      [JSON.stringify([...matching, ...Array.from({ length: 100 }, () => row("other"))])]
    )
    const store = await jobs.runtime.runPromise(Effect.service(JobStore))
    const requested = await ConsoleApi.make(store).actByFilter(
      { action: "cancel", filter: { type: "idle", status: "pending" } },
      { actor: "ops@example.com", actions: ["cancel"] }
    )
    assert.strictEqual(requested.status, 202)
    const bulkId = (requested.body as { job_id: string }).job_id

    // the 7th chunk will wait on this row's lock
    const locker = await pool.connect()
    await locker.query("begin")
    await locker.query(`select 1 from "${schema}".jobs where id = $1 for update`, [matching[6_500]!.id])
    const lockerPid = (await locker.query<{ pid: number }>("select pg_backend_pid() as pid")).rows[0]!.pid

    const a = await start(schema, "a")
    children.push(a)
    await eventually(
      () => count(`select count(*) as n from pg_stat_activity where $1 = any(pg_blocking_pids(pid))`, [lockerPid]),
      (n) => n > 0,
      30_000
    )
    const beforeKill = await count(`select count(*) as n from $schema.handled`)
    assert.strictEqual(beforeKill, 6_000, "six chunks of 1,000 done before the held one")
    assert.strictEqual((await q<{ locked_by: string }>(`select locked_by from $schema.jobs where id = $1`, [bulkId]))[0]!.locked_by, "a")
    a.kill("SIGKILL")
    await new Promise((r) => a.once("exit", r))
    await locker.query("rollback")
    locker.release()

    const b = await start(schema, "b")
    children.push(b)
    const done = await eventually(
      () => q<{ status: string; attempts: number; result: { applied: number; skipped: number }; errors: Array<{ message: string }> }>(
        `select status, attempts, result, errors from $schema.jobs where id = $1`,
        [bulkId]
      ),
      (r) => r[0]!.status === "completed",
      60_000
    )
    const bulk = done[0]!
    assert.strictEqual(bulk.attempts, 2)
    assert.match(bulk.errors[0]!.message, /lease/)

    // every matching job moved to cancelled once; nothing else moved
    const moves = await q<{ n: string; distinct: string }>(`select count(*) as n, count(distinct job_id) as distinct from $schema.handled`)
    assert.deepStrictEqual([Number(moves[0]!.n), Number(moves[0]!.distinct)], [N, N])
    assert.strictEqual(await count(`select count(*) as n from $schema.jobs where type = 'idle' and status <> 'cancelled'`), 0)
    assert.strictEqual(await count(`select count(*) as n from $schema.jobs where type = 'other' and status = 'pending'`), 100)
    // the second run changed what the first had not (the killed process's held chunk may have committed after it died)
    assert.isAtMost(bulk.result.applied, N - beforeKill)
    assert.isAtLeast(bulk.result.applied, N - beforeKill - 1_000)
    const audit = await q<{ action: string; count: string | null; job_id: string }>(
      `select action, count, job_id from $schema.audit order by id`
    )
    assert.deepStrictEqual(audit.map((e) => [e.action, e.count === null ? null : Number(e.count), e.job_id]), [
      ["bulk.cancel", null, bulkId],
      ["bulk.cancel.done", bulk.result.applied, bulkId]
    ])

    b.kill("SIGTERM")
    assert.strictEqual(await new Promise((r) => b.once("exit", r)), 0)
  }, 120_000)
})
