/**
 * `close()` is bounded when PostgreSQL stops answering: a job running at
 * shutdown is stopped after the grace and its hand-back (the release write)
 * is waited for at most the hand-back bound; a job not handed back is left
 * `processing` for lease recovery, and closing the store's own pool gives
 * up on the connections stuck on the dead socket after its bound.
 *
 * The network is frozen by a TCP proxy between the store and PostgreSQL
 * that stops forwarding bytes in both directions (the sockets stay open, as
 * in a partition). Before, `close()` never returned (still pending after 30 s
 * with a 1 s grace); with no job running it returned at once.
 */
import net from "node:net"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { JobDefinition, Jobtrack } from "@jobtrack/core"
import { layerPostgres } from "@jobtrack/adapter-kysely"
import { Schema } from "effect"
import pg from "pg"
import { databaseUrl, randomSchema } from "./databases.js"

const url = databaseUrl()

/** A proxy to PostgreSQL that can stop forwarding (both ways) without closing anything. */
const freezingProxy = async (target: URL) => {
  let frozen = false
  const sockets = new Set<net.Socket>()
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 5432), target.hostname)
    for (const s of [client, upstream]) {
      sockets.add(s)
      s.on("error", () => {})
      s.on("close", () => sockets.delete(s))
    }
    client.on("data", (d) => { if (!frozen) upstream.write(d) })
    upstream.on("data", (d) => { if (!frozen) client.write(d) })
    client.on("close", () => upstream.destroy())
    upstream.on("close", () => client.destroy())
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const port = (server.address() as net.AddressInfo).port
  const via = new URL(target.href)
  via.hostname = "127.0.0.1"
  via.port = String(port)
  return {
    url: via.href,
    freeze: () => { frozen = true },
    close: () => {
      for (const s of sockets) s.destroy()
      return new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}

/** Resolves with `value` or rejects after `ms` (a bound on a wait, not a sleep). */
const within = <A>(p: Promise<A>, ms: number, what: string): Promise<A> =>
  new Promise<A>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`still pending after ${ms} ms: ${what}`)), ms)
    p.then((a) => { clearTimeout(timer); resolve(a) }, (e) => { clearTimeout(timer); reject(e) })
  })

describe.skipIf(!url)("close() while PostgreSQL stops answering", { tags: ["postgres"] }, () => {
  let admin: pg.Client
  beforeAll(async () => {
    admin = new pg.Client({ connectionString: url! })
    await admin.connect()
  })
  afterAll(() => admin.end())

  it("returns within the grace and the hand-back bound; the running job is left to lease recovery", async () => {
    const proxy = await freezingProxy(new URL(url!))
    const schema = randomSchema()
    let started!: () => void
    const running = new Promise<void>((resolve) => (started = resolve))
    const def = JobDefinition.make({
      type: "frozen",
      payload: Schema.Struct({ n: Schema.Number }),
      run: ({ n }, ctx) =>
        new Promise<number>((resolve, reject) => {
          started()
          // honours its signal: only the hand-back write is left once stopped
          ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason))
          if (n < 0) resolve(n)
        })
    })
    const jobs = Jobtrack.make({
      store: layerPostgres({ connectionString: proxy.url, schema }),
      definitions: [def],
      runner: { shutdownGrace: "1 second", lease: "30 seconds" }
    })
    try {
      await jobs.start()
      const { job } = await jobs.enqueue(def, { n: 1 })
      await within(running, 10_000, "the job starts")
      proxy.freeze()
      const t0 = Date.now()
      await within(jobs.close(), 30_000, "close() with the network frozen")
      const took = Date.now() - t0
      // 1 s grace + 5 s hand-back + 5 s pool close (about 11 s), with room for a loaded machine
      assert.isBelow(took, 20_000)
      // nothing lost: the job is still held under its lease, for lease recovery
      const { rows } = await admin.query<{ status: string }>(`select status from ${schema}.jobs where id = $1`, [job.id])
      assert.strictEqual(rows[0]?.status, "processing")
    } finally {
      await proxy.close()
      await admin.query(`drop schema if exists ${schema} cascade`)
    }
  }, 60_000)
})
