/**
 * Three OS processes with the same schedule, ten ticks: exactly ten jobs. The
 * store decides who fires each tick (one conditional update and insert per
 * tick), so the count holds however the processes' timers interleave.
 */
import { spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import { fileURLToPath } from "node:url"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { migrate } from "@jobtrack/adapter-kysely"
import { Kysely, PostgresDialect, sql } from "kysely"
import pg from "pg"
import { databaseUrl, randomSchema, until } from "./databases.js"

const url = databaseUrl()
const fixture = fileURLToPath(new URL("./fixtures/schedule-worker.ts", import.meta.url))

/** Ten per-second ticks within one minute, starting at least 3 s from now: their instants and a cron for exactly them. */
const tenTicks = async () => {
  let start = Math.ceil(Date.now() / 1000) * 1000 + 3000
  const second = new Date(start).getUTCSeconds()
  // keep the ten ticks inside one minute, so one cron expression names exactly them
  if (second > 50) start += (60 - second) * 1000
  const first = new Date(start)
  const seconds = Array.from({ length: 10 }, (_, i) => first.getUTCSeconds() + i)
  const cron = `${seconds.join(",")} ${first.getUTCMinutes()} ${first.getUTCHours()} ${first.getUTCDate()} ${first.getUTCMonth() + 1} *`
  return { cron, first: start, last: start + 9000 }
}

describe.skipIf(!url)("schedules across OS processes", { tags: ["postgres"] }, () => {
  const schema = randomSchema("jt_sched")
  let pool: pg.Pool
  let db: Kysely<unknown>
  const children: Array<ChildProcess> = []
  const q = async <R extends pg.QueryResultRow>(text: string, params: Array<unknown> = []) =>
    (await pool.query<R>(text.replaceAll("$schema", `"${schema}"`), params)).rows

  const start = (cron: string): Promise<ChildProcess> =>
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [fixture, url!, schema, cron], { stdio: ["ignore", "pipe", "pipe"] })
      let err = ""
      child.stderr!.on("data", (d) => (err += d))
      child.stdout!.on("data", (d: Buffer) => {
        if (d.toString().includes("ready")) resolve(child)
      })
      child.once("exit", (code) => reject(new Error(`scheduler exited (${code}) before it was ready: ${err}`)))
      children.push(child)
    })

  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: url!, max: 2 })
    db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool }) })
    await migrate(db, { schema })
  }, 60_000)
  afterAll(async () => {
    for (const child of children) {
      if (child.exitCode === null) {
        child.kill("SIGTERM")
        await new Promise((r) => child.once("exit", r))
      }
    }
    await sql.raw(`drop schema if exists "${schema}" cascade`).execute(db)
    await db.destroy()
  })

  it("three processes, the same schedule, ten ticks: exactly ten jobs", async () => {
    const { cron, first, last } = await tenTicks()
    // ticks are due after the schedule's state, whichever process starts first
    await q(`insert into $schema.schedules (name, paused, last_tick_at, updated_at) values ('ten', false, $1, now())`, [
      new Date(first - 1000)
    ])
    await Promise.all([start(cron), start(cron), start(cron)])
    const count = async () => Number((await q<{ n: string }>(`select count(*) as n from $schema.jobs where type = 'tick'`))[0]!.n)
    await until(count, (n) => n >= 10, 90_000, "ten tick jobs")
    // every tick has passed and been seen: the schedule's state is at the last one
    await until(
      async () => (await q<{ t: Date }>(`select last_tick_at as t from $schema.schedules where name = 'ten'`))[0]!.t.getTime(),
      (t) => t === last,
      30_000,
      "the last tick fired"
    )
    assert.strictEqual(await count(), 10)
    const jobs = await q<{ owner: string | null; payload: unknown }>(`select owner, payload from $schema.jobs where type = 'tick'`)
    for (const j of jobs) assert.deepStrictEqual(j.payload, { n: 1 })
    // and the jobs were run by the runners of those processes
    await until(
      async () => Number((await q<{ n: string }>(`select count(*) as n from $schema.jobs where status = 'completed'`))[0]!.n),
      (n) => n === 10,
      30_000,
      "ten completed tick jobs"
    )
  }, 180_000)
})
