import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { Effect, Layer } from "effect"
import { JobStore, Jobtrack, MemoryStore } from "@jobtrack/core"
import { ConsoleSchedules } from "@jobtrack/adapter-koa"
import { pglite } from "@jobtrack/adapter-kysely"
import { consoleCall, eventually, flaky, idle, newYearSchedule, rawPost, startConsoleApp } from "./consoleServer.js"
import type { ConsoleApp } from "./consoleServer.js"

const stores = {
  memory: undefined,
  pglite: Layer.effect(JobStore, Effect.orDie(pglite()))
}

for (const [kind, store] of Object.entries(stores)) {
  describe(`operator console API over HTTP (${kind})`, () => {
    let app: ConsoleApp
    beforeAll(async () => {
      app = await startConsoleApp({}, store)
    }, 60_000)
    afterAll(() => app.close())

    it("no access answers 404 everywhere (the console is not revealed); read-only reads but cannot act (403)", async () => {
      for (const path of ["/", "/api/overview", "/api/jobs", "/api/me"]) {
        assert.strictEqual((await consoleCall(app, path)).status, 404, path)
        assert.strictEqual((await consoleCall(app, path, { user: "mallory" })).status, 404, path)
      }
      const { job } = await app.jobs.enqueue(idle, { n: 1 }, { owner: "ann" })
      const me = await consoleCall(app, "/api/me", { user: "viewer" })
      assert.deepStrictEqual([me.status, me.body.actor, me.body.actions], [200, "viewer@example.com", []])
      assert.strictEqual((await consoleCall(app, "/api/overview", { user: "viewer" })).status, 200)
      assert.strictEqual((await consoleCall(app, `/api/jobs/${job.id}`, { user: "viewer" })).status, 200)
      for (const [path, body] of [
        [`/api/jobs/${job.id}/action`, { action: "cancel" }],
        ["/api/selection", { action: "cancel", ids: [job.id] }],
        ["/api/bulk", { action: "cancel", filter: { type: "idle" } }]
      ] as const) {
        const r = await consoleCall(app, path, { user: "viewer", body })
        assert.strictEqual(r.status, 403, path)
        assert.strictEqual(r.body.error.code, "forbidden")
      }
      // a user allowed to retry only
      const r = await consoleCall(app, `/api/jobs/${job.id}/action`, { user: "retrier", body: { action: "delete" } })
      assert.strictEqual(r.status, 403)
      assert.strictEqual((await app.jobs.get(job.id)).status, "pending")
    })

    it("mutations from another site, another origin or without the token are refused", async () => {
      const { job } = await app.jobs.enqueue(idle, { n: 2 })
      const path = `/api/jobs/${job.id}/action`
      const body = { action: "cancel" }
      const cases: Array<[string, Parameters<typeof consoleCall>[2]]> = [
        ["cross-site", { user: "admin", body, headers: { "sec-fetch-site": "cross-site" } }],
        ["same-site", { user: "admin", body, headers: { "sec-fetch-site": "same-site" } }],
        ["no token", { user: "admin", body, token: null }],
        ["wrong token", { user: "admin", body, token: "forged" }],
        ["another operator's token", {
          user: "admin",
          body,
          token: (await consoleCall(app, "/api/me", { user: "viewer" })).body.token
        }]
      ]
      for (const [what, init] of cases) {
        const r = await consoleCall(app, path, init)
        assert.strictEqual(r.status, 403, what)
      }
      // a forged Origin, with a valid token: refused (sent raw: fetch would not send it)
      const token = (await consoleCall(app, "/api/me", { user: "admin" })).body.token as string
      const forged = await rawPost(`${app.url}${path}`, {
        "x-user": "admin",
        "x-console-token": token,
        "content-type": "application/json",
        origin: "https://evil.example"
      }, JSON.stringify(body))
      assert.strictEqual(forged.status, 403)
      assert.include(forged.body, "cross-origin")
      // a form post (no JSON) is refused too
      const form = await consoleCall(app, path, {
        user: "admin",
        body: "action=cancel",
        headers: { "content-type": "application/x-www-form-urlencoded" }
      })
      assert.strictEqual(form.status, 400)
      assert.strictEqual((await app.jobs.get(job.id)).status, "pending")
      const ok = await consoleCall(app, path, {
        user: "admin",
        body,
        headers: { "sec-fetch-site": "same-origin", origin: app.origin }
      })
      assert.strictEqual(ok.status, 200)
      assert.strictEqual(ok.body.status, "cancelled")
    })

    it("lists every owner's jobs with filters, sorting and keyset pages; bad input is a 400 naming each problem", async () => {
      const type = `idle`
      const enq = await Promise.all(
        ["ann", "bob", "cy", "ann", "bob"].map((owner, n) => app.jobs.enqueue(idle, { n: 100 + n }, { owner, key: `list-${n}` }))
      )
      const ids = enq.map((e) => e.job.id)
      const page1 = await consoleCall(app, `/api/jobs?type=${type}&key=list-0,list-1&limit=2`, { user: "viewer" })
      assert.strictEqual(page1.status, 200)
      const byOwner = await consoleCall(app, `/api/jobs?owner=ann&type=idle&sort=createdAt&order=asc&limit=500`, { user: "viewer" })
      const annIds = (byOwner.body.items as Array<{ id: string; owner: string }>).map((j) => j.id)
      assert.includeMembers(annIds, [ids[0]!, ids[3]!])
      assert.isTrue((byOwner.body.items as Array<{ owner: string }>).every((j) => j.owner === "ann"))
      // pages of 2 over the five, oldest first: no repeats, no gaps
      const seen: Array<string> = []
      let cursor: string | null = ""
      while (cursor !== null) {
        const r: { body: { items: Array<{ id: string }>; next_cursor: string | null } } = await consoleCall(
          app,
          `/api/jobs?type=idle&created_from=${encodeURIComponent(enq[0]!.job.createdAt.toISOString())}&sort=createdAt&order=asc&limit=2${cursor ? `&cursor=${cursor}` : ""}`,
          { user: "viewer" }
        )
        seen.push(...r.body.items.map((j) => j.id).filter((id) => ids.includes(id)))
        cursor = r.body.next_cursor
      }
      assert.deepStrictEqual(seen, ids.slice().sort())

      const bad = await consoleCall(
        app,
        "/api/jobs?status=pending,bogus&limit=0&sort=owner&created_from=yesterday&cursor=xyz&order=up",
        { user: "viewer" }
      )
      assert.strictEqual(bad.status, 400)
      assert.deepStrictEqual(
        (bad.body.error.details.issues as Array<{ path: Array<string> }>).map((i) => i.path[0]).sort(),
        ["created_from", "cursor", "limit", "order", "sort", "status"]
      )
      assert.strictEqual((await consoleCall(app, "/api/jobs/not-an-id", { user: "viewer" })).status, 404)
      assert.strictEqual((await consoleCall(app, "/api/nothing-here", { user: "viewer" })).status, 404)
      const garbage = await consoleCall(app, "/api/bulk", { user: "admin", body: "{not json" })
      assert.strictEqual(garbage.status, 400)
      const wrong = await consoleCall(app, "/api/bulk", { user: "admin", body: { action: "explode", filter: { status: "x" } } })
      assert.strictEqual(wrong.status, 400)
      assert.deepStrictEqual(
        (wrong.body.error.details.issues as Array<{ path: Array<string> }>).map((i) => i.path[0]).sort(),
        ["action", "status"]
      )
    })

    it("retry a failed job: it runs again and completes; the action is audited", async () => {
      const { job } = await app.jobs.enqueue(flaky, { failFirst: 1 })
      await eventually(() => app.jobs.get(job.id), (j) => j.status === "failed")
      const failed = await consoleCall(app, `/api/jobs?status=failed&error=MAILBOX&type=flaky`, { user: "viewer" })
      assert.include((failed.body.items as Array<{ id: string }>).map((j) => j.id), job.id)
      const detail = await consoleCall(app, `/api/jobs/${job.id}`, { user: "viewer" })
      assert.strictEqual(detail.body.errors[0].message, "mailbox authentication failed")
      // each failed attempt keeps its start and worker for the Attempts table (issue 15)
      assert.isString(detail.body.errors[0].startedAt)
      assert.isString(detail.body.errors[0].worker)
      // and the thrown Error's stack, for the operator only
      assert.include(detail.body.errors[0].stack, "Error: mailbox authentication failed")
      const r = await consoleCall(app, `/api/jobs/${job.id}/action`, { user: "admin", body: { action: "retry" } })
      assert.strictEqual(r.status, 200)
      await eventually(() => app.jobs.get(job.id), (j) => j.status === "completed")
      const again = await consoleCall(app, `/api/jobs/${job.id}/action`, { user: "admin", body: { action: "runNow" } })
      assert.deepStrictEqual([again.status, again.body.error.code], [409, "invalid_transition"])
      const audit = await consoleCall(app, "/api/audit?limit=50", { user: "viewer" })
      const entry = (audit.body.items as Array<{ actor: string; action: string; target: { ids?: Array<string> } }>)
        .find((e) => e.action === "retry" && e.target.ids?.[0] === job.id)
      assert.strictEqual(entry?.actor, "admin@example.com")
    })

    it("actions on a selection apply at once and say how many", async () => {
      const enq = await Promise.all([1, 2, 3].map((n) => app.jobs.enqueue(idle, { n: 200 + n })))
      const ids = enq.map((e) => e.job.id)
      const r = await consoleCall(app, "/api/selection", { user: "admin", body: { action: "setPriority", priority: 9, ids } })
      assert.deepStrictEqual(r.body, { applied: 3, skipped: 0 })
      for (const id of ids) assert.strictEqual((await app.jobs.get(id)).priority, 9)
    })

    it("bulk cancel by filter runs as a tracked job, in chunks, with progress, and is audited", async () => {
      const label = `bulk-${kind}`
      const many = await app.jobs.enqueueMany(
        idle,
        Array.from({ length: 2_500 }, (_, n) => ({ payload: { n }, options: { key: `${label}-${n}`, owner: n % 2 ? "ann" : "bob" } }))
      )
      const keep = await app.jobs.enqueue(flaky, { failFirst: 0 })
      const r = await consoleCall(app, "/api/bulk", {
        user: "admin",
        body: { action: "cancel", filter: { type: "idle", status: "pending" } }
      })
      assert.strictEqual(r.status, 202)
      const bulkId = r.body.job_id as string
      const done = await eventually(
        () => consoleCall(app, `/api/jobs/${bulkId}`, { user: "viewer" }),
        (x) => x.body.status === "completed",
        30_000
      )
      assert.strictEqual(done.body.progress, 100)
      assert.isAtLeast(done.body.result.applied, 2_500)
      for (const e of [many[0]!, many[1_234]!, many[2_499]!]) assert.strictEqual((await app.jobs.get(e.job.id)).status, "cancelled")
      assert.notStrictEqual((await app.jobs.get(keep.job.id)).status, "cancelled")
      const audit = await consoleCall(app, "/api/audit?limit=50", { user: "viewer" })
      const actions = (audit.body.items as Array<{ action: string; job_id?: string; jobId?: string; count: number | null }>)
        .filter((e) => e.jobId === bulkId)
      assert.deepStrictEqual(actions.map((e) => e.action), ["bulk.cancel.done", "bulk.cancel"])
      assert.isAtLeast(actions[0]!.count!, 2_500)
    }, 60_000)

    it("the overview counts per queue, type and status; series has the hour's buckets", async () => {
      const o = await consoleCall(app, "/api/overview", { user: "viewer" })
      assert.strictEqual(o.status, 200)
      const rows = o.body.counts as Array<{ queue: string; type: string; status: string; count: number; capped: boolean }>
      assert.isTrue(rows.some((r) => r.type === "idle" && r.status === "cancelled" && r.count >= 2_500))
      const s = await consoleCall(app, "/api/series?range=hour", { user: "viewer" })
      assert.strictEqual(s.body.buckets.length, 60)
      const total = (s.body.buckets as Array<{ completed: number }>).reduce((n, b) => n + b.completed, 0)
      assert.isAtLeast(total, 1)
      assert.strictEqual((await consoleCall(app, "/api/series?range=week", { user: "viewer" })).status, 400)
    })

    it("schedules: every owner's schedule with its next run for any operator; no access is a 404", async () => {
      for (const user of [undefined, "mallory"]) {
        const r = await consoleCall(app, "/api/schedules", user ? { user } : {})
        assert.strictEqual(r.status, 404, String(user))
        assert.notInclude(JSON.stringify(r.body), newYearSchedule.name)
      }
      const r = await consoleCall(app, "/api/schedules", { user: "viewer" })
      assert.strictEqual(r.status, 200)
      assert.strictEqual(r.body.items.length, 1)
      const s = r.body.items[0]
      assert.deepStrictEqual(
        [s.name, s.cron, s.time_zone, s.type, s.owner, s.paused],
        ["new-year-report", "0 3 1 1 *", "Europe/Berlin", "flaky", "ann", false]
      )
      // 03:00 in Berlin on January 1st is 02:00 UTC, in the future, and the first of the next runs
      assert.match(s.next_run_at, /^\d{4}-01-01T02:00:00\.000Z$/)
      assert.isAbove(Date.parse(s.next_run_at), Date.now())
      assert.strictEqual(s.next_runs[0], s.next_run_at)
      assert.property(s, "last_tick_at")
      // the same answer as the Jobtrack's own schedules API
      const [info] = await app.jobs.schedules.list()
      assert.strictEqual(s.next_run_at, info!.nextRunAt!.toISOString())
    })

    it("schedule actions: pause, resume and run now as the operator may, refused across sites, audited", async () => {
      const path = `/api/schedules/${newYearSchedule.name}/action`
      for (const user of ["viewer", "retrier"]) {
        const r = await consoleCall(app, path, { user, body: { action: "pauseSchedule" } })
        assert.deepStrictEqual([r.status, r.body.error.code], [403, "forbidden"], user)
      }
      const refused: Array<[string, Parameters<typeof consoleCall>[2]]> = [
        ["cross-site", { user: "admin", body: { action: "pauseSchedule" }, headers: { "sec-fetch-site": "cross-site" } }],
        ["no token", { user: "admin", body: { action: "pauseSchedule" }, token: null }]
      ]
      for (const [what, init] of refused) assert.strictEqual((await consoleCall(app, path, init)).status, 403, what)
      assert.strictEqual((await consoleCall(app, path, { user: "admin", body: { action: "retry" } })).status, 400)
      const unknown = await consoleCall(app, "/api/schedules/no-such/action", { user: "admin", body: { action: "pauseSchedule" } })
      assert.strictEqual(unknown.status, 404)
      assert.isFalse((await app.jobs.schedules.get(newYearSchedule.name)).paused, "a refused request changed the schedule")

      const paused = await consoleCall(app, path, { user: "admin", body: { action: "pauseSchedule" } })
      assert.deepStrictEqual([paused.status, paused.body.name, paused.body.paused], [200, newYearSchedule.name, true])
      assert.isTrue((await consoleCall(app, "/api/schedules", { user: "viewer" })).body.items[0].paused)
      const resumed = await consoleCall(app, path, { user: "admin", body: { action: "resumeSchedule" } })
      assert.deepStrictEqual([resumed.status, resumed.body.paused], [200, false])
      const triggered = await consoleCall(app, path, { user: "admin", body: { action: "triggerSchedule" } })
      assert.deepStrictEqual([triggered.status, triggered.body.type], [202, "flaky"])
      const job = await app.jobs.get(triggered.body.job_id)
      assert.strictEqual(job.owner, "ann")

      const audit = (await consoleCall(app, "/api/audit?limit=3", { user: "viewer" })).body.items as Array<Record<string, unknown>>
      assert.deepStrictEqual(
        audit.map((e) => [e.actor, e.action, e.target, e.count, e.jobId]),
        [
          ["admin@example.com", "triggerSchedule", { schedule: newYearSchedule.name }, 1, job.id],
          ["admin@example.com", "resumeSchedule", { schedule: newYearSchedule.name }, 0, null],
          ["admin@example.com", "pauseSchedule", { schedule: newYearSchedule.name }, 0, null]
        ]
      )
    })

    it("events: ready once subscribed, then the changes as they happen", async () => {
      const ac = new AbortController()
      const res = await fetch(`${app.url}/api/events`, { headers: { "x-user": "viewer" }, signal: ac.signal })
      assert.strictEqual(res.headers.get("content-type"), "text/event-stream; charset=utf-8")
      const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader()
      let buffer = ""
      const until = async (pred: (b: string) => boolean) => {
        const start = Date.now()
        while (!pred(buffer)) {
          if (Date.now() - start > 10_000) throw new Error(`not seen: ${JSON.stringify(buffer.slice(-800))}`)
          const { done, value } = await reader.read()
          if (done) throw new Error("stream ended")
          buffer += value
        }
      }
      await until((b) => b.includes("event: ready"))
      const { job } = await app.jobs.enqueue(idle, { n: 999 })
      await until((b) => b.includes(job.id))
      ac.abort()
    })
  })
}

describe("the console's schedules without schedules", () => {
  it("a Jobtrack with no schedules, or a bare store, lists none", async () => {
    const jobs = Jobtrack.make({ store: MemoryStore.layer, definitions: [flaky] })
    try {
      assert.deepStrictEqual(await ConsoleSchedules.list(jobs.schedules), { status: 200, body: { items: [] } })
      assert.deepStrictEqual(await ConsoleSchedules.list(undefined), { status: 200, body: { items: [] } })
      const store = await jobs.runtime.runPromise(Effect.service(JobStore))
      const op = { actor: "admin", actions: ["pauseSchedule" as const] }
      for (const schedules of [jobs.schedules, undefined]) {
        const r = await ConsoleSchedules.act(schedules, store, "nightly", { action: "pauseSchedule" }, op)
        assert.strictEqual(r.status, 404)
      }
    } finally {
      await jobs.close()
    }
  })
})
