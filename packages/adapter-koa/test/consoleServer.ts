import { request } from "node:http"
import type { AddressInfo } from "node:net"
import Koa from "koa"
import { Effect, Schema } from "effect"
import { JobDefinition, JobSchedule, Jobtrack, MemoryStore, RetryPolicy } from "@jobtrack/core"
import type { StoreLayer } from "@jobtrack/core"
import { ConsoleInput, jobsConsole } from "@jobtrack/adapter-koa"
import type { JobsConsoleOptions } from "@jobtrack/adapter-koa"

/**
 * Fails while its payload says so for this attempt number: `failFirst` attempts fail.
 * With `withStep`, it first runs a durable step ("check mailbox") and logs a line.
 */
const attempts = new Map<string, number>()
export const flaky = JobDefinition.make({
  type: "flaky",
  payload: Schema.Struct({ failFirst: Schema.Number, message: Schema.optionalKey(Schema.String), withStep: Schema.optionalKey(Schema.Boolean) }),
  retry: RetryPolicy.none,
  handler: (p, ctx) =>
    Effect.gen(function*() {
      const n = (attempts.get(ctx.id) ?? 0) + 1
      attempts.set(ctx.id, n)
      if (p.withStep) {
        yield* ctx.step("check mailbox", Effect.succeed(1))
        yield* ctx.log("mailbox checked", { attempt: n })
      }
      yield* ctx.progress(50, "half way")
      yield* Effect.sleep("50 millis")
      if (n <= p.failFirst) return yield* Effect.fail(new Error(p.message ?? "mailbox authentication failed"))
      return { run: n }
    })
})

/** Never run here (no definition in the runner): stays pending. */
export const idle = JobDefinition.make({
  type: "idle",
  payload: Schema.Struct({ n: Schema.Number }),
  handler: () => Effect.void
})

/**
 * The test Jobtrack's one cron schedule: at 03:00 on January 1st in Berlin, so
 * no tick fires while the tests run (its jobs would change the counts).
 */
export const newYearSchedule = JobSchedule.make({
  name: "new-year-report",
  cron: "0 3 1 1 *",
  timeZone: "Europe/Berlin",
  definition: flaky,
  payload: { failFirst: 0 },
  owner: "ann"
})

export interface ConsoleApp {
  readonly origin: string
  readonly url: string
  readonly jobs: Jobtrack.Jobtrack
  /** The server stops listening and drops every connection (a restart's first half)… */
  readonly offline: () => Promise<void>
  /** …and listens again on the same port. */
  readonly online: () => Promise<void>
  readonly close: () => Promise<void>
}

/**
 * A Koa app with the console under /admin/jobs. Callers say who they are with
 * `x-user`: `admin` may do everything, `viewer` reads, `retrier` may only retry;
 * anyone else has no access.
 */
export const startConsoleApp = async (
  extra: Partial<JobsConsoleOptions> = {},
  store: StoreLayer<never> = MemoryStore.layer
): Promise<ConsoleApp> => {
  const jobs = Jobtrack.make({
    store,
    definitions: [flaky],
    schedules: [newYearSchedule],
    runner: { concurrency: 10, pollInterval: "50 millis", progressInterval: "10 millis" }
  })
  await jobs.start()
  const admin = jobsConsole(jobs, {
    prefix: "/admin/jobs",
    access: (ctx) => {
      const user = ctx.get("x-user")
      if (user === "admin") return { actor: "admin@example.com", actions: ConsoleInput.allActions }
      if (user === "viewer") return { actor: "viewer@example.com", actions: [] }
      if (user === "retrier") return { actor: "retrier@example.com", actions: ["retry"] }
      return null
    },
    tick: "500 millis",
    ...extra
  })
  const app = new Koa().use(admin.routes()).use(admin.allowedMethods())
  const server = app.listen(0, "127.0.0.1")
  await new Promise<void>((resolve) => server.once("listening", resolve))
  const { port } = server.address() as AddressInfo
  const origin = `http://127.0.0.1:${port}`
  return {
    origin,
    url: `${origin}/admin/jobs`,
    jobs,
    offline: async () => {
      const closed = new Promise((resolve) => server.close(resolve))
      server.closeAllConnections()
      await closed
    },
    online: async () => {
      server.listen(port, "127.0.0.1")
      await new Promise<void>((resolve) => server.once("listening", resolve))
    },
    close: async () => {
      server.closeAllConnections()
      if (server.listening) await new Promise((resolve) => server.close(resolve))
      await admin.close()
      await jobs.close()
    }
  }
}

/** A console API call as `user`; mutations carry the user's token unless `token` is given. */
export const consoleCall = async (
  app: ConsoleApp,
  path: string,
  init: { user?: string; method?: string; body?: unknown; headers?: Record<string, string>; token?: string | null } = {}
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
): Promise<{ status: number; body: any }> => {
  const headers: Record<string, string> = { ...init.headers }
  if (init.user) headers["x-user"] = init.user
  const method = init.method ?? (init.body === undefined ? "GET" : "POST")
  if (method !== "GET" && init.token !== null) {
    headers["x-console-token"] = init.token ?? (await consoleCall(app, "/api/me", { user: init.user ?? "" })).body?.token ?? ""
  }
  let body: string | undefined
  if (init.body !== undefined) {
    body = typeof init.body === "string" ? init.body : JSON.stringify(init.body)
    headers["content-type"] ??= "application/json"
  }
  const res = await fetch(`${app.url}${path}`, { method, headers, ...(body !== undefined ? { body } : {}) })
  const text = await res.text()
  let parsed: unknown = text
  try {
    parsed = text ? JSON.parse(text) : undefined
  } catch {
    // not JSON (the page)
  }
  return { status: res.status, body: parsed }
}

/** Poll `f` until `until` holds, at most `withinMs`. */
export const eventually = async <A>(f: () => Promise<A>, until: (a: A) => boolean, withinMs = 15_000): Promise<A> => {
  const start = Date.now()
  while (true) {
    const a = await f()
    if (until(a)) return a
    if (Date.now() - start > withinMs) throw new Error(`condition not met within ${withinMs} ms: ${JSON.stringify(a)}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

/**
 * A POST over node:http, headers exactly as given (fetch would not send a
 * forged `Origin`, a browser on another site would).
 */
export const rawPost = (url: string, headers: Record<string, string>, body: string) =>
  new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request(url, { method: "POST", headers }, (res) => {
      let text = ""
      res.setEncoding("utf8")
      res.on("data", (c: string) => (text += c))
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }))
    })
    req.on("error", reject)
    req.end(body)
  })
