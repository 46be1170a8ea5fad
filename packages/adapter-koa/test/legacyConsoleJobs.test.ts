/**
 * The console's bulk jobs enqueued before 0.5.0 had no owner, so an anonymous
 * caller's store queries (owner null) returned them. The jobs API filtered
 * them out after the store's page: pages came back short (a page of 5 held
 * 2 or 3 jobs, its `next_cursor` naming a bulk job) and `/stats` counted them,
 * revealing their existence and number. Now the store's own query leaves the
 * console's queue out (`excludeQueue`): pages are full, the counts the caller's.
 */
import type { AddressInfo } from "node:net"
import Koa from "koa"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { Schema } from "effect"
import { JobDefinition, Jobtrack, MemoryStore } from "@jobtrack/core"
import { InternalJobs, jobsRouter } from "@jobtrack/adapter-koa"

/** A bulk job as a console before 0.5.0 enqueued it: the console's queue, no owner. */
const legacyBulk = JobDefinition.make({
  type: "jobtrack.console.bulk",
  queue: InternalJobs.consoleQueue,
  payload: Schema.Struct({}),
  run: async () => null
})
const plain = JobDefinition.make({ type: "plain", payload: Schema.Struct({ n: Schema.Number }), run: async () => null })

let url = ""
let close = async () => {}
beforeAll(async () => {
  // no runner: every job stays pending
  const jobs = Jobtrack.make({ store: MemoryStore.layer, definitions: [legacyBulk, plain] })
  for (let n = 0; n < 12; n++) {
    await jobs.enqueue(legacyBulk, {})
    await jobs.enqueue(plain, { n })
  }
  const router = jobsRouter(jobs, { owner: () => undefined, allowAnonymous: true })
  const server = new Koa().use(router.routes()).listen(0, "127.0.0.1")
  await new Promise((r) => server.once("listening", r))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  close = async () => {
    server.closeAllConnections()
    await new Promise((r) => server.close(r))
    await jobs.close()
  }
})
afterAll(() => close())

const get = async (path: string) => {
  const res = await fetch(`${url}${path}`)
  assert.strictEqual(res.status, 200, path)
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return (await res.json()) as any
}

describe("an anonymous caller and the console's ownerless bulk jobs of before 0.5.0", () => {
  it("lists full pages of its own jobs only", async () => {
    const sizes: Array<number> = []
    const types = new Set<string>()
    let cursor: string | null = null
    do {
      const page = await get(`/?limit=5${cursor === null ? "" : `&cursor=${cursor}`}`)
      sizes.push(page.items.length)
      for (const item of page.items) types.add(item.type)
      cursor = page.next_cursor
    } while (cursor !== null)
    // before: [2, 3, 2, 3, 2] and a last empty page; the cursors named bulk jobs
    assert.deepStrictEqual(sizes, [5, 5, 2])
    assert.deepStrictEqual([...types], ["plain"])
  })

  it("counts its own jobs only in /stats", async () => {
    const stats = await get("/stats")
    // before: 24 pending, and a by_type entry for jobtrack.console.bulk
    assert.strictEqual(stats.counts.pending, 12)
    assert.deepStrictEqual(stats.by_type.map((t: { type: string }) => t.type), ["plain"])
  })
})
