/**
 * The console refuses what it does not know instead of reading it as absent
 * (an audit: a bulk cancel whose filter said `stauts`, `ownr` and
 * `error_contains` was accepted as "cancel every job of this type", and an
 * empty filter as "cancel every job"). Over HTTP, through a listening server.
 * Before: every request here was a 200 or a 202.
 */
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { ConsoleInput } from "@jobtrack/adapter-koa"
import { consoleCall, eventually, idle, startConsoleApp } from "./consoleServer.js"
import type { ConsoleApp } from "./consoleServer.js"

type Issues = Array<{ path: Array<string>; message: string }>
const issuesOf = (body: { error: { details?: { issues: Issues } } }): Issues => body.error.details?.issues ?? []
const paths = (body: { error: { details?: { issues: Issues } } }) => issuesOf(body).map((i) => i.path.join(".")).sort()

describe("console: unknown fields and an empty bulk filter are a 400 naming them", () => {
  let app: ConsoleApp
  beforeAll(async () => {
    app = await startConsoleApp()
  })
  afterAll(() => app.close())

  /** The console's bulk jobs so far (each one an action by filter that was accepted). */
  const bulkJobs = async () =>
    ((await consoleCall(app, "/api/jobs?type=jobtrack.console.bulk&limit=500", { user: "viewer" })).body.items as Array<unknown>).length

  it("an action by filter with misspelt filter fields is refused, naming each and listing the known ones; nothing is enqueued", async () => {
    const r = await consoleCall(app, "/api/bulk", {
      user: "admin",
      body: { action: "cancel", filter: { type: "nothing-here", stauts: "failed", ownr: "ann", error_contains: "x" } }
    })
    assert.strictEqual(r.status, 400)
    assert.strictEqual(r.body.error.code, "invalid_input")
    assert.deepStrictEqual(paths(r.body), ["error_contains", "ownr", "stauts"])
    for (const issue of issuesOf(r.body)) {
      assert.include(issue.message, ConsoleInput.filterFields.join(", "))
    }
    // a misspelt field of the request itself, too
    const top = await consoleCall(app, "/api/bulk", { user: "admin", body: { action: "cancel", filter: { type: "idle" }, filtre: {} } })
    assert.strictEqual(top.status, 400)
    assert.deepStrictEqual(paths(top.body), ["filtre"])
    assert.strictEqual(await bulkJobs(), 0)
  })

  it("an empty filter acts on every job only with \"all\": true", async () => {
    const { job } = await app.jobs.enqueue(idle, { n: 1 }, { owner: "dee" })
    for (const body of [{ action: "cancel", filter: {} }, { action: "cancel", filter: { type: "" } }]) {
      const r = await consoleCall(app, "/api/bulk", { user: "admin", body })
      assert.strictEqual(r.status, 400, JSON.stringify(body))
      assert.deepStrictEqual(paths(r.body), ["filter"])
      assert.include(issuesOf(r.body)[0]!.message, "\"all\": true")
    }
    const notTrue = await consoleCall(app, "/api/bulk", { user: "admin", body: { action: "cancel", filter: {}, all: "yes" } })
    assert.deepStrictEqual([notTrue.status, paths(notTrue.body)], [400, ["all"]])
    const both = await consoleCall(app, "/api/bulk", { user: "admin", body: { action: "cancel", filter: { type: "idle" }, all: true } })
    assert.deepStrictEqual([both.status, paths(both.body)], [400, ["all"]])
    assert.strictEqual(await bulkJobs(), 0)
    assert.strictEqual((await app.jobs.get(job.id)).status, "pending")

    const every = await consoleCall(app, "/api/bulk", { user: "admin", body: { action: "cancel", filter: {}, all: true } })
    assert.strictEqual(every.status, 202)
    assert.strictEqual(await bulkJobs(), 1)
    await eventually(() => app.jobs.get(job.id), (j) => j.status === "cancelled")
  })

  it("a selection or a one-job action with an unknown field is refused", async () => {
    const { job } = await app.jobs.enqueue(idle, { n: 2 })
    const sel = await consoleCall(app, "/api/selection", { user: "admin", body: { action: "cancel", ids: [job.id], id: job.id } })
    assert.deepStrictEqual([sel.status, paths(sel.body)], [400, ["id"]])
    const one = await consoleCall(app, `/api/jobs/${job.id}/action`, { user: "admin", body: { action: "setPriority", prio: 5 } })
    assert.strictEqual(one.status, 400)
    assert.deepStrictEqual(paths(one.body), ["prio", "priority"])
    assert.strictEqual((await app.jobs.get(job.id)).status, "pending")
  })

  it("the list, overview, charts and audit refuse query parameters they do not read, and take those they do", async () => {
    for (
      const [path, unknown] of [
        ["/api/jobs?stauts=failed&type=idle", ["stauts"]],
        ["/api/jobs?status=failed&sortt=runAt&page=2", ["page", "sortt"]],
        // the overview and the charts take owner, no_owner, queue and type only
        ["/api/overview?status=failed", ["status"]],
        ["/api/series?range=day&created_from=2026-01-01", ["created_from"]],
        ["/api/audit?limit=5&actor=ann", ["actor"]]
      ] as const
    ) {
      const r = await consoleCall(app, path, { user: "viewer" })
      assert.strictEqual(r.status, 400, path)
      assert.deepStrictEqual(paths(r.body), [...unknown], path)
    }
    for (
      const path of [
        "/api/jobs?status=failed&type=idle&queue=default&owner=ann&key=k&error=x&created_from=2026-01-01&created_to=2026-12-31&finished_from=2026-01-01&finished_to=2026-12-31&sort=runAt&order=asc&limit=5",
        "/api/jobs?no_owner=true&ids=01900000-0000-7000-8000-000000000000",
        "/api/overview?owner=ann&queue=default&type=idle",
        "/api/overview?no_owner=true",
        "/api/series?range=hour&owner=ann&queue=default&type=idle",
        "/api/audit?limit=5"
      ]
    ) assert.strictEqual((await consoleCall(app, path, { user: "viewer" })).status, 200, path)
  })
})
