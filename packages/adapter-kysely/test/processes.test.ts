import { spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import { fileURLToPath } from "node:url"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { migrate } from "@jobtrack/adapter-kysely"
import { JobId } from "@jobtrack/core"
import { Kysely, PostgresDialect, sql } from "kysely"
import pg from "pg"
import { databaseUrl, randomSchema, until } from "./databases.js"

const url = databaseUrl()
const worker = fileURLToPath(new URL("./fixtures/worker.ts", import.meta.url))


const startWorker = (schema: string, id: string): Promise<ChildProcess> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [worker, url!, schema, id], { stdio: ["ignore", "pipe", "pipe"] })
    let err = ""
    child.stderr!.on("data", (d) => (err += d))
    child.stdout!.on("data", (d: Buffer) => {
      if (d.toString().includes("ready")) resolve(child)
    })
    child.once("exit", (code) => reject(new Error(`worker ${id} exited (${code}) before it was ready: ${err}`)))
  })

describe.skipIf(!url)("several OS processes on one PostgreSQL", { tags: ["postgres"] }, () => {
  const schema = randomSchema("jt_procs")
  let pool: pg.Pool
  let db: Kysely<unknown>
  const children: Array<ChildProcess> = []
  const q = async <R extends pg.QueryResultRow>(text: string, params: Array<unknown> = []) =>
    (await pool.query<R>(text.replaceAll("$schema", `"${schema}"`), params)).rows

  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: url!, max: 4 })
    db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool }) })
    await migrate(db, { schema })
    await q(`create table $schema.executions (job_id uuid, attempt int, worker text, at timestamptz default now())`)
    await q(`create table $schema.completions (job_id uuid primary key, worker text, delivery_id uuid)`)
    await q(`create table $schema.duplicates (job_id uuid, worker text)`)
  })
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill("SIGKILL")
    await sql.raw(`drop schema "${schema}" cascade`).execute(db)
    await db.destroy()
  })

  it("3 runners, 2,000 jobs, one SIGKILLed while it holds jobs: every job completes once; its jobs are recovered", async () => {
    const total = 2000
    const rows = Array.from({ length: total }, (_, n) => ({
      id: JobId.make(),
      type: "work",
      queue: "default",
      payload: { n, ms: 20 + (n % 5) * 10 },
      max_attempts: 6,
      priority: 0,
      run_at: new Date(0).toISOString(),
      owner: null,
      key: null,
      group_key: null,
      group_limit: null
    }))
    await q(
      `insert into $schema.jobs (id, type, queue, payload, max_attempts, priority, run_at, owner, key, group_key, group_limit,
         status, created_at, updated_at)
       select x.*, 'pending', now(), now() from jsonb_to_recordset($1::jsonb) as x(id uuid, type text, queue text,
         payload jsonb, max_attempts int, priority int, run_at timestamptz, owner text, key text, group_key text, group_limit int)`,
      [JSON.stringify(rows)]
    )
    const [a, b, c] = await Promise.all(["a", "b", "c"].map((id) => startWorker(schema, id)))
    children.push(a!, b!, c!)

    const held = await until(
      () => q<{ id: string }>(`select id from $schema.jobs where status = 'processing' and locked_by = 'b'`),
      (r) => r.length >= 5,
      20_000,
      "worker b holding jobs"
    )
    b!.kill("SIGKILL")
    await new Promise((r) => b!.once("exit", r))
    const heldIds = held.map((r) => r.id)

    await until(
      () => q<{ n: string }>(`select count(*) as n from $schema.jobs where status = 'completed'`),
      (r) => Number(r[0]!.n) === total,
      90_000,
      "all jobs completed"
    )
    // hooks are delivered at least once: the ones b was killed in come back to a or c
    await until(
      () => q<{ n: string }>(`select count(*) as n from $schema.completions`),
      (r) => Number(r[0]!.n) === total,
      30_000,
      "every completion hook delivered"
    )
    const duplicates = await q<{ n: string }>(`select count(*) as n from $schema.duplicates`)
    assert.strictEqual(Number(duplicates[0]!.n), 0, "a job's completion was accepted twice")
    const statuses = await q<{ status: string; n: string }>(`select status, count(*) as n from $schema.jobs group by status`)
    assert.deepStrictEqual(statuses.map((s) => [s.status, Number(s.n)]), [["completed", total]])
    // b's jobs were recovered after their lease expired, and finished elsewhere
    const recovered = await q<{ id: string; errors: Array<{ message: string }>; worker: string }>(
      `select j.id, j.errors, c.worker from $schema.jobs j join $schema.completions c on c.job_id = j.id
       where j.id = any($1::uuid[])`,
      [heldIds]
    )
    const lost = recovered.filter((r) => r.errors.some((e) => /worker lost: lease held by b/.test(e.message)))
    assert.isAtLeast(lost.length, 1)
    for (const r of lost) assert.notStrictEqual(r.worker, "b")
    const byWorker = await q<{ worker: string; n: string }>(`select worker, count(*) as n from $schema.completions group by worker order by worker`)
    assert.deepStrictEqual(byWorker.map((w) => w.worker).filter((w) => w !== "b"), ["a", "c"])

    for (const child of [a!, c!]) {
      child.kill("SIGTERM")
      const code = await new Promise((r) => child.once("exit", r))
      assert.strictEqual(code, 0)
    }
    const after = await q<{ n: string }>(`select count(*) as n from $schema.duplicates`)
    assert.strictEqual(Number(after[0]!.n), 0)
  }, 120_000)
})
