/**
 * Durable steps and awaited results across OS processes sharing one
 * PostgreSQL: a runner SIGKILLed inside step 3 of a 4-step job, another
 * process finishing it from its stored steps; `jobs.result` in this process
 * awaiting jobs that other processes complete or fail.
 */
import { spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import { fileURLToPath } from "node:url"
import { Effect, Schema } from "effect"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { layerPostgres, migrate } from "@jobtrack/adapter-kysely"
import { JobDefinition, Jobtrack } from "@jobtrack/core"
import { Kysely, PostgresDialect, sql } from "kysely"
import pg from "pg"
import { databaseUrl, randomSchema, until } from "./databases.js"

const url = databaseUrl()
const fixture = fileURLToPath(new URL("./fixtures/step-worker.ts", import.meta.url))

/** The fixture's definition as this process knows it: types and schemas only (it runs no jobs). */
const fourSteps = JobDefinition.make({
  type: "four-steps",
  payload: Schema.Struct({ n: Schema.Number, fail: Schema.optional(Schema.Boolean) }),
  result: Schema.Struct({ total: Schema.Number }),
  handler: () => Effect.die("runs in the worker processes only")
})

describe.skipIf(!url)("durable steps across OS processes on one PostgreSQL", { tags: ["postgres"] }, () => {
  const schema = randomSchema("jt_steps")
  let pool: pg.Pool
  let db: Kysely<unknown>
  let jobs: Jobtrack.Jobtrack
  const children: Array<ChildProcess> = []
  const q = async <R extends pg.QueryResultRow>(text: string, params: Array<unknown> = []) =>
    (await pool.query<R>(text.replaceAll("$schema", `"${schema}"`), params)).rows

  const start = (id: string): Promise<ChildProcess> =>
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [fixture, url!, schema, id], { stdio: ["ignore", "pipe", "pipe"] })
      children.push(child)
      let err = ""
      child.stderr!.on("data", (d) => (err += d))
      child.stdout!.on("data", (d: Buffer) => {
        if (d.toString().includes("ready")) resolve(child)
      })
      child.once("exit", (code) => reject(new Error(`worker ${id} exited (${code}) before it was ready: ${err}`)))
    })
  const stop = async (child: ChildProcess, signal: NodeJS.Signals) => {
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise((r) => child.once("exit", r))
    child.kill(signal)
    await exited
  }
  const effects = async (jobId: string) =>
    (await q<{ step: number; worker: string }>(`select step, worker from $schema.step_effects where job_id = $1 order by at, step`, [jobId]))
      .map((r) => `${r.step}:${r.worker}`)

  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: url!, max: 3 })
    db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool }) })
    await migrate(db, { schema })
    await q(`create table $schema.step_effects (job_id uuid, step int, worker text, at timestamptz default clock_timestamp())`)
    jobs = Jobtrack.make({
      store: layerPostgres({ connectionString: url!, schema, migrate: false, max: 2 }),
      definitions: [fourSteps],
      watchPollInterval: "200 millis"
    })
  }, 60_000)
  afterAll(async () => {
    await jobs?.close()
    for (const child of children) await stop(child, "SIGKILL")
    await sql.raw(`drop schema "${schema}" cascade`).execute(db)
    await db.destroy()
  })

  it("a runner SIGKILLed in step 3 of 4: another process finishes the job; steps 1-2 ran once, step 3 at most twice; jobs.result here gets its result", async () => {
    const a = await start("a")
    const { job } = await jobs.enqueue(fourSteps, { n: 4 })
    // process A is inside step 3 (its side effect is recorded and it stays there)
    await until(() => effects(job.id), (e) => e.includes("3:a"), 20_000, "worker a in step 3")
    const awaited = jobs.result(job.id, { definition: fourSteps })
    await stop(a, "SIGKILL")
    const b = await start("b")
    const result = await awaited
    assert.deepStrictEqual(result, { total: 13 })

    const ran = await effects(job.id)
    assert.deepStrictEqual(ran.filter((e) => e.startsWith("1:")), ["1:a"], "step 1 ran exactly once")
    assert.deepStrictEqual(ran.filter((e) => e.startsWith("2:")), ["2:a"], "step 2 ran exactly once")
    assert.isAtMost(ran.filter((e) => e.startsWith("3:")).length, 2, "step 3 ran at most twice")
    assert.deepStrictEqual(ran.filter((e) => e.startsWith("4:")), ["4:b"])
    const view = await jobs.get(job.id)
    assert.strictEqual(view.status, "completed")
    assert.strictEqual(view.attempts, 2)
    assert.match(view.errors[0]!.message, /worker lost: lease held by a/)
    assert.deepStrictEqual(view.steps?.map((s) => [s.name, s.status, s.attempts]), [
      ["one", "completed", 1],
      ["two", "completed", 1],
      ["three", "completed", 2],
      ["four", "completed", 1]
    ])
    await stop(b, "SIGTERM")
  }, 90_000)

  it("jobs.result here rejects with the job's tagged error when another process fails it", async () => {
    const b = await start("b2")
    const { job } = await jobs.enqueue(fourSteps, { n: 1, fail: true })
    const error = await jobs.result(job.id).then(
      () => null,
      (e: unknown) => e as { _tag: string; reason: string; errors: ReadonlyArray<unknown> }
    )
    assert.strictEqual(error?._tag, "JobFailed")
    assert.strictEqual(error?.reason, "step four refused the input")
    assert.strictEqual(error?.errors.length, 1)
    // another owner never sees it, not even that it exists
    const other = await jobs.result(job.id, { owner: "mallory" }).then(() => null, (e: { _tag: string }) => e._tag)
    assert.strictEqual(other, "JobNotFound")
    await stop(b, "SIGTERM")
  }, 60_000)
})
