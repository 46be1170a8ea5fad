/**
 * Hooks survive a crash between the commit and the hook: a runner process is
 * SIGKILLed while it is inside its hooks (every transition already committed),
 * and two other processes deliver every hook, the interrupted ones included.
 */
import { spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import { fileURLToPath } from "node:url"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { Effect } from "effect"
import { KyselyStore, migrate } from "@jobtrack/adapter-kysely"
import { JobId } from "@jobtrack/core"
import { Kysely, PostgresDialect, sql } from "kysely"
import pg from "pg"
import { databaseUrl, randomSchema, until } from "./databases.js"

const url = databaseUrl()
const worker = fileURLToPath(new URL("./fixtures/hook-worker.ts", import.meta.url))

const startWorker = (schema: string, id: string, mode: "hang" | "deliver"): Promise<ChildProcess> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [worker, url!, schema, id, mode], { stdio: ["ignore", "pipe", "pipe"] })
    let err = ""
    child.stderr!.on("data", (d) => (err += d))
    child.stdout!.on("data", (d: Buffer) => {
      if (d.toString().includes("ready")) resolve(child)
    })
    child.once("exit", (code) => reject(new Error(`worker ${id} exited (${code}) before it was ready: ${err}`)))
  })

describe.skipIf(!url)("hook deliveries across OS processes on PostgreSQL", () => {
  const schema = randomSchema("jt_hooks")
  let pool: pg.Pool
  let db: Kysely<unknown>
  const children: Array<ChildProcess> = []
  const q = async <R extends pg.QueryResultRow>(text: string, params: Array<unknown> = []) =>
    (await pool.query<R>(text.replaceAll("$schema", `"${schema}"`), params)).rows
  const count = async (text: string) => Number((await q<{ n: string }>(text))[0]!.n)

  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: url!, max: 4 })
    db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool }) })
    await migrate(db, { schema })
    await q(`create table $schema.hook_calls (delivery_id uuid, job_id uuid, event text, worker text, attempt int)`)
    await q(`create table $schema.delivered (delivery_id uuid primary key, job_id uuid, event text, worker text)`)
  })
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill("SIGKILL")
    await sql.raw(`drop schema "${schema}" cascade`).execute(db)
    await db.destroy()
  })

  it("a runner SIGKILLed inside its hooks after the commits: every hook is still delivered, by the others", async () => {
    // 8 jobs that complete, 4 that fail (no retry), 3 cancelled while pending by this process
    const runnable = Array.from({ length: 12 }, (_, n) => ({ id: JobId.make(), fail: n % 3 === 0 }))
    const later = Array.from({ length: 3 }, () => JobId.make())
    const rows = [
      ...runnable.map((j) => ({ id: j.id, payload: { fail: j.fail }, run_at: new Date(0).toISOString() })),
      ...later.map((id) => ({ id, payload: { fail: false }, run_at: new Date(9e12).toISOString() }))
    ]
    await q(
      `insert into $schema.jobs (id, type, queue, payload, max_attempts, priority, run_at, status, created_at, updated_at)
       select x.id, 'work', 'default', x.payload, 1, 0, x.run_at, 'pending', now(), now()
       from jsonb_to_recordset($1::jsonb) as x(id uuid, payload jsonb, run_at timestamptz)`,
      [JSON.stringify(rows)]
    )
    // a process without hooks cancels: the delivery is recorded with the cancel, as the
    // workers' hooks were deployed before (their subscription is in the database)
    await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const store = yield* KyselyStore.make({ db, schema })
      yield* store.subscribeHooks({ types: ["work"], events: ["completed", "failed", "cancelled"] })
      for (const id of later) yield* store.cancel(id)
    })))

    const a = await startWorker(schema, "a", "hang")
    children.push(a)
    await until(
      () => count(`select count(*) as n from $schema.jobs where status in ('completed', 'failed', 'cancelled')`),
      (n) => n === 15,
      30_000,
      "every job terminal"
    )
    // a is inside hooks that will never return
    await until(() => count(`select count(*) as n from $schema.hook_calls where worker = 'a'`), (n) => n >= 2, 30_000, "a calling hooks")
    a.kill("SIGKILL")
    await new Promise((r) => a.once("exit", r))
    assert.strictEqual(await count(`select count(*) as n from $schema.delivered`), 0, "a hook finished before the kill")
    assert.strictEqual(await count(`select count(*) as n from $schema.hook_deliveries`), 15, "every transition recorded its delivery")
    const hung = await q<{ delivery_id: string; attempt: number }>(`select delivery_id, attempt from $schema.hook_calls where worker = 'a'`)

    const [b, c] = await Promise.all([startWorker(schema, "b", "deliver"), startWorker(schema, "c", "deliver")])
    children.push(b!, c!)
    // a's deliveries come back when its 4 s delivery lease runs out
    await until(() => count(`select count(*) as n from $schema.delivered`), (n) => n === 15, 30_000, "every hook delivered")
    const delivered = await q<{ job_id: string; event: string; worker: string }>(
      `select d.job_id, d.event, d.worker, j.status from $schema.delivered d join $schema.jobs j on j.id = d.job_id`
    )
    const expected = new Map([
      ...runnable.map((j) => [j.id, j.fail ? "failed" : "completed"] as const),
      ...later.map((id) => [id, "cancelled"] as const)
    ])
    assert.deepStrictEqual(
      new Map(delivered.map((d) => [d.job_id, d.event])),
      expected,
      "each job's hook delivered once, for the status it reached"
    )
    assert.strictEqual(delivered.length, 15)
    for (const d of delivered) assert.include(["b", "c"], d.worker)
    // the deliveries a was killed in were made again, same delivery id, a later attempt
    for (const h of hung) {
      const again = await q<{ attempt: number }>(
        `select attempt from $schema.hook_calls where delivery_id = $1 and worker in ('b', 'c')`,
        [h.delivery_id]
      )
      assert.isAbove(again.length, 0, `delivery ${h.delivery_id} was not retried`)
      assert.isAbove(Math.max(...again.map((x) => x.attempt)), h.attempt)
    }
    // delivered hooks are deleted
    await until(() => count(`select count(*) as n from $schema.hook_deliveries`), (n) => n === 0, 10_000, "deliveries deleted")

    for (const child of [b!, c!]) {
      child.kill("SIGTERM")
      const code = await new Promise((r) => child.once("exit", r))
      assert.strictEqual(code, 0)
    }
  }, 120_000)
})
