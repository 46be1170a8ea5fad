/**
 * Stop, then start again in one process, with a plain async handler that
 * ignores `ctx.signal`: the stop waits for the handler's Promise (within the
 * grace plus the hand-back bound) before it releases the job, so the restarted
 * runner's attempt never runs beside the first. Before, the stop dropped the
 * Promise, released the job at once, and the restart ran a second copy of the
 * job beside the first (the audit's run3, on PGlite; here on PostgreSQL).
 *
 * The body's 2 s is its work, not a wait of the test: the test waits on the
 * body's start, its signal's abort, the stop and the job's completion.
 */
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { Schema } from "effect"
import { JobDefinition, Jobtrack } from "@jobtrack/core"
import { layerPostgres } from "@jobtrack/adapter-kysely"
import pg from "pg"
import { databaseUrl, randomSchema } from "./databases.js"

const url = databaseUrl()

/** Resolves with the value or rejects after `ms` (a bound on a wait, not a sleep). */
const within = <A>(p: Promise<A>, ms: number, what: string): Promise<A> =>
  new Promise<A>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`still pending after ${ms} ms: ${what}`)), ms)
    p.then((a) => { clearTimeout(timer); resolve(a) }, (e) => { clearTimeout(timer); reject(e) })
  })

const signal = () => {
  let fire!: () => void
  const fired = new Promise<void>((resolve) => (fire = resolve))
  return { fire, fired }
}

describe.skipIf(!url)("stop and start with an async handler that ignores its signal", { tags: ["postgres"] }, () => {
  let admin: pg.Client
  beforeAll(async () => {
    admin = new pg.Client({ connectionString: url! })
    await admin.connect()
  })
  afterAll(() => admin.end())

  it("the stop waits for the handler's Promise; the restart never runs a second copy beside it", async () => {
    const schema = randomSchema()
    let live = 0
    let maxLive = 0
    let bodies = 0
    const started = signal()
    const aborted = signal()
    const def = JobDefinition.make({
      type: "deaf",
      payload: Schema.Struct({}),
      run: async (_, ctx) => {
        live++
        maxLive = Math.max(maxLive, live)
        bodies++
        ctx.signal.addEventListener("abort", () => aborted.fire())
        started.fire()
        // the first attempt's work: 2 s, whatever the signal says
        if (bodies === 1) await new Promise((resolve) => setTimeout(resolve, 2_000))
        live--
        return bodies
      }
    })
    const jobs = Jobtrack.make({
      store: layerPostgres({ connectionString: url!, schema }),
      definitions: [def],
      runner: { shutdownGrace: "100 millis" }
    })
    try {
      await jobs.start()
      const { job } = await jobs.enqueue(def, {})
      await within(started.fired, 10_000, "the body starts")
      const stopping = jobs.stop()
      await within(aborted.fired, 5_000, "the stop aborts the signal")
      await within(stopping, 10_000, "the stop")
      // the body the stop aborted has ended before the stop returned
      assert.strictEqual(live, 0)
      const { rows } = await admin.query<{ status: string; attempts: number }>(
        `select status, attempts from ${schema}.jobs where id = $1`,
        [job.id]
      )
      assert.deepStrictEqual(rows[0], { status: "pending", attempts: 0 })
      await jobs.start()
      let last: { status: string } | undefined
      for await (const view of jobs.watch(job.id)) last = view
      assert.strictEqual(last?.status, "completed")
      assert.strictEqual(bodies, 2)
      assert.strictEqual(maxLive, 1)
    } finally {
      await jobs.close()
      await admin.query(`drop schema if exists ${schema} cascade`)
    }
  }, 30_000)
})
