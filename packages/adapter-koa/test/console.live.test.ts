/**
 * The console is live on PostgreSQL (issue 15, "Live"): a job enqueued and
 * completed by another OS process reaches the console's list stream through
 * the store's status feed within a few seconds (the feed's stamps are read
 * once a second, migration 0015), long before the stream's tick (60 s here).
 * The feed sends no notification (a `NOTIFY` per transaction serialised
 * completions). It costs nothing while no console is open: its registration
 * exists only while a list stream is open, one for the process however many
 * are. A running job's progress, reported in another process, reaches an
 * open overview stream the same way: the stream watches the running jobs the
 * overview shows, and only while it is open.
 */
import { spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import { fileURLToPath } from "node:url"
import { Layer } from "effect"
import { JobStore } from "@jobtrack/core"
import { migrate, postgres } from "@jobtrack/adapter-kysely"
import { Kysely, PostgresDialect, sql } from "kysely"
import pg from "pg"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { postgresUrl } from "../../../scripts/test-env.js"
import { eventually, startConsoleApp } from "./consoleServer.js"
import type { ConsoleApp } from "./consoleServer.js"
import { sseChunks } from "./server.js"

const url = postgresUrl()
const producer = fileURLToPath(new URL("./fixtures/producer.ts", import.meta.url))

/** One SSE client of the console: its events as they arrive. */
const openStream = async (address: string) => {
  const abort = new AbortController()
  const events: Array<{ event: string; data: unknown }> = []
  const res = await fetch(address, { headers: { "x-user": "viewer" }, signal: abort.signal })
  assert.strictEqual(res.status, 200)
  void (async () => {
    try {
      for await (const blocks of sseChunks(res)) {
        for (const b of blocks) {
          if (b.event !== "message") events.push({ event: b.event, data: b.data ? JSON.parse(b.data) : undefined })
        }
      }
    } catch {
      // closed
    }
  })()
  return { events, close: () => abort.abort() }
}

describe.skipIf(!url)("console live on PostgreSQL", { tags: ["postgres"] }, () => {
  const schema = `jt_live_${Math.random().toString(36).slice(2, 10)}`
  let db: Kysely<unknown>
  let app: ConsoleApp
  let child: ChildProcess | undefined
  const feedRows = async () =>
    Number((await sql<{ n: string }>`select count(*) as n from ${sql.id(schema, "watches")}
      where job_id = '00000000-0000-0000-0000-000000000000'::uuid and expires_at > now()`.execute(db)).rows[0]!.n)

  /** The producer fixture as a child process, once it says "ready"; `output()` is its stdout so far. */
  const startProducer = async () => {
    const proc = spawn(process.execPath, [producer, url!, schema], { stdio: ["pipe", "pipe", "pipe"] })
    let out = ""
    let err = ""
    proc.stdout!.on("data", (d: Buffer) => (out += d.toString()))
    proc.stderr!.on("data", (d: Buffer) => (err += d.toString()))
    const output = () => out
    await eventually(async () => out, (o) => o.includes("ready"), 20_000).catch((e) => {
      throw new Error(`${e}: ${err}`)
    })
    return { child: proc, output }
  }

  beforeAll(async () => {
    db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url!, max: 2 }) }) })
    await migrate(db, { schema })
    // a plain store layer (the console joins no host transaction)
    const store = Layer.effect(JobStore, postgres({ connectionString: url!, schema, migrate: false, max: 5 }))
    app = await startConsoleApp({ tick: "60 seconds" }, store)
  }, 60_000)
  afterAll(async () => {
    if (child && child.exitCode === null) child.kill("SIGKILL")
    await app?.close()
    await sql.raw(`drop schema if exists "${schema}" cascade`).execute(db)
    await db.destroy()
  })

  it("another process's job appears and completes in the list stream without waiting for the tick", async () => {
    assert.strictEqual(await feedRows(), 0, "a feed is registered while no console is open")
    const streams = [await openStream(`${app.url}/api/events`), await openStream(`${app.url}/api/events`)]
    await eventually(async () => streams.every((s) => s.events.some((e) => e.event === "ready")), (ok) => ok, 10_000)
    assert.strictEqual(await feedRows(), 1, "two open streams share one registration")

    // the feed itself notifies nothing: only the enqueue (the insert trigger) is heard
    const heard: Array<{ k?: string }> = []
    const listener = new pg.Client({ connectionString: url! })
    await listener.connect()
    listener.on("notification", (m) => heard.push(JSON.parse(m.payload ?? "{}") as { k?: string }))
    await listener.query(`listen "jobtrack:${schema}"`)

    const producing = await startProducer()
    child = producing.child
    const output = producing.output
    child.stdin!.write("enqueue\n")
    const id = (await eventually(async () => /enqueued (\S+)/.exec(output())?.[1], (m) => m !== undefined, 10_000))!

    const changes = (s: (typeof streams)[number]) =>
      s.events.filter((e) => e.event === "changes").flatMap((e) => e.data as Array<Record<string, unknown>>)
    const started = Date.now()
    for (const s of streams) {
      await eventually(async () => changes(s), (cs) => cs.some((c) => c.id === id && c.kind === "enqueued"), 10_000)
      await eventually(
        async () => changes(s),
        (cs) => cs.some((c) => c.kind === "queueChanged" && c.type === "echo" && c.status === "completed"),
        10_000
      )
    }
    // a 60 s tick cannot have done it; the feed's read, once a second, did
    assert.isBelow(Date.now() - started, 5_000)
    await listener.end()
    assert.deepStrictEqual(heard.map((m) => m.k), ["enqueued"], "the feed sent notifications")
    for (const s of streams) assert.isFalse(s.events.some((e) => e.event === "tick"))

    // the view the page re-reads shows it done
    const list = await fetch(`${app.url}/api/jobs?type=echo`, { headers: { "x-user": "viewer" } })
    const items = ((await list.json()) as { items: Array<{ id: string; status: string }> }).items
    assert.deepStrictEqual(items.map((j) => [j.id, j.status]), [[id, "completed"]])

    // the last stream gone, the feed is gone: the trigger is quiet again
    for (const s of streams) s.close()
    await eventually(feedRows, (n) => n === 0, 10_000)
    child.stdin!.end()
    await new Promise((r) => child!.once("exit", r))
  }, 90_000)

  it("a running job's progress in another process reaches the overview stream without waiting for the tick", async () => {
    const watchers = async (id: string) =>
      Number((await sql<{ n: string }>`select count(*) as n from ${sql.id(schema, "watches")}
        where job_id = ${id}::uuid and expires_at > now()`.execute(db)).rows[0]!.n)
    const producing = await startProducer()
    child = producing.child
    const output = producing.output
    // one overview stream open before the job starts: the job is watched once the feed says it runs
    const streams = [await openStream(`${app.url}/api/events`)]
    await eventually(async () => streams[0]!.events.some((e) => e.event === "ready"), (ok) => ok, 10_000)
    child.stdin!.write("enqueue steps\n")
    const id = (await eventually(async () => /enqueued (\S+)/.exec(output())?.[1], (m) => m !== undefined, 10_000))!
    await eventually(async () => output(), (o) => o.includes("running"), 10_000)
    await eventually(() => watchers(id), (n) => n === 1, 10_000)
    // another opened while it runs reads the running set at ready: still one registration
    streams.push(await openStream(`${app.url}/api/events`))
    await eventually(async () => streams[1]!.events.some((e) => e.event === "ready"), (ok) => ok, 10_000)
    assert.strictEqual(await watchers(id), 1, "the overview streams do not share the job's registration")

    const started = Date.now()
    for (const n of [40, 70]) {
      child.stdin!.write(`progress ${n}\n`)
      await eventually(async () => output(), (o) => o.includes(`reported ${n}`), 10_000)
      for (const s of streams) {
        await eventually(
          async () => s.events.filter((e) => e.event === "changes").flatMap((e) => e.data as Array<Record<string, unknown>>),
          (cs) => cs.filter((c) => c.id === id && c.kind === "progress").length >= (n === 40 ? 1 : 2),
          10_000
        )
      }
    }
    // a 60 s tick cannot have done it
    assert.isBelow(Date.now() - started, 5_000)
    for (const s of streams) assert.isFalse(s.events.some((e) => e.event === "tick"))
    const overview = await fetch(`${app.url}/api/overview`, { headers: { "x-user": "viewer" } })
    const running = ((await overview.json()) as { running: Array<{ id: string; progress: number }> }).running
    assert.deepStrictEqual(running.map((j) => [j.id, j.progress]), [[id, 70]])

    // the job done, the open streams stop watching it
    child.stdin!.end()
    await new Promise((r) => child!.once("exit", r))
    await eventually(() => watchers(id), (n) => n === 0, 10_000)
    for (const s of streams) s.close()
  }, 90_000)

  it("an overview stream watches no job while nothing runs", async () => {
    const rows = async () =>
      Number((await sql<{ n: string }>`select count(*) as n from ${sql.id(schema, "watches")}
        where job_id <> '00000000-0000-0000-0000-000000000000'::uuid`.execute(db)).rows[0]!.n)
    const s = await openStream(`${app.url}/api/events`)
    await eventually(async () => s.events.some((e) => e.event === "ready"), (ok) => ok, 10_000)
    assert.strictEqual(await rows(), 0)
    s.close()
  })
})
