import type { AddressInfo } from "node:net"
import Koa from "koa"
import { Effect, Schema, Stream } from "effect"
import type { Scope } from "effect"
import { Command, JobDefinition, Jobtrack, MemoryStore, RetryPolicy } from "@jobtrack/core"
import type { JobStoreShape } from "@jobtrack/core"
import { JobStore } from "@jobtrack/core"
import { Layer } from "effect"
import { jobsRouter } from "@jobtrack/adapter-koa"
import { pglite } from "@jobtrack/adapter-kysely"
import type { JobsRouterOptions } from "@jobtrack/adapter-koa"

/** Pids of child processes started by the `shell` job, by job id. */
export const pids = new Map<string, number>()

/** A multi-step job: `steps` durable steps of `stepMs`, each reported; fails when asked to. */
export const steps = JobDefinition.make({
  type: "steps",
  payload: Schema.Struct({
    steps: Schema.Int.pipe(Schema.check(Schema.isBetween({ minimum: 1, maximum: 100 }))),
    stepMs: Schema.Int,
    fail: Schema.optionalKey(Schema.Boolean),
    label: Schema.optionalKey(Schema.String),
    /** Enqueued with this key (see `startApp`'s `expose`). */
    key: Schema.optionalKey(Schema.String)
  }),
  result: Schema.Struct({ done: Schema.Int }),
  retry: RetryPolicy.none,
  handler: (p, ctx) =>
    Effect.gen(function*() {
      for (let i = 1; i <= p.steps; i++) {
        // each a durable step: shown in the view's `steps`
        yield* ctx.step(`step ${i}`, Effect.sleep(p.stepMs).pipe(
          Effect.andThen(p.fail && i === p.steps ? Effect.fail(new Error("mailbox authentication failed")) : Effect.void)
        ))
        yield* ctx.progress((i / p.steps) * 100, `Step ${i} of ${p.steps}`)
      }
      return { done: p.steps }
    })
})

/** Fails on its first run, succeeds when run again (a manual retry). */
const runs = new Map<string, number>()
export const flaky = JobDefinition.make({
  type: "flaky",
  payload: Schema.Struct({}),
  result: Schema.Struct({ run: Schema.Int }),
  retry: RetryPolicy.none,
  handler: (_, ctx) =>
    Effect.suspend(() => {
      const run = (runs.get(ctx.id) ?? 0) + 1
      runs.set(ctx.id, run)
      return run === 1 ? Effect.fail(new Error("first run fails")) : Effect.succeed({ run })
    })
})

/** One at a time (a group of one): a second job waits, pending, while the first sleeps. */
export const solo = JobDefinition.make({
  type: "solo",
  payload: Schema.Struct({}),
  group: { key: () => "solo", limit: 1 },
  handler: () => Effect.sleep("60 seconds")
})

/** Says what no store can hold (a NUL, an unpaired surrogate) in its progress, then in its error or result. */
export const noisy = JobDefinition.make({
  type: "noisy",
  payload: Schema.Struct({ fail: Schema.Boolean }),
  result: Schema.Struct({ text: Schema.String }),
  retry: RetryPolicy.none,
  handler: (p, ctx) =>
    Effect.gen(function*() {
      yield* ctx.progress(50, "step\u0000one")
      if (p.fail) return yield* Effect.fail(new Error("bad\u0000byte \ud800"))
      return { text: "nul\u0000" }
    })
})

/** Runs `sleep 60` as a child process. */
export const shell = JobDefinition.make({
  type: "shell",
  payload: Schema.Struct({}),
  handler: (_, ctx) =>
    Command.run("sleep", ["60"], { onStart: (pid) => Effect.sync(() => void pids.set(ctx.id, pid)), killGraceMs: 500 })
})

export interface App {
  readonly url: string
  readonly jobs: Jobtrack.Jobtrack
  /** Subscriptions to the store's changes open right now. */
  readonly subscriptions: () => number
  readonly close: () => Promise<void>
}

/** A Koa app with the jobs router mounted at `prefix`, on a real port, over a memory or PGlite store. */
export const startApp = async (
  prefix = "/api/jobs",
  extra: Partial<JobsRouterOptions> = {},
  kind: "memory" | "pglite" = "memory",
  /** Configure the Koa app before it listens (e.g. `app.proxy`). */
  configure: (app: { proxy: boolean; maxIpsCount: number }) => void = () => {}
): Promise<App> => {
  let open = 0
  const base: Effect.Effect<JobStoreShape, unknown, Scope.Scope> = kind === "memory" ? MemoryStore.make : pglite()
  const counted = Layer.effect(
    JobStore,
    Effect.map(Effect.orDie(base), (inner): JobStoreShape => ({
      ...inner,
      changes: Stream.suspend(() => {
        open++
        return inner.changes.pipe(Stream.ensuring(Effect.sync(() => open--)))
      })
    }))
  )
  const jobs = Jobtrack.make({
    store: counted,
    definitions: [steps, flaky, shell, solo, noisy],
    runner: { concurrency: 20, pollInterval: "50 millis", progressInterval: "20 millis" },
    watchPollInterval: "100 millis"
  })
  await jobs.start()
  const router = jobsRouter(jobs, {
    ...(prefix ? { prefix } : {}),
    owner: (ctx) => {
      const auth = ctx.get("authorization")
      return auth.startsWith("Bearer ") ? auth.slice(7) : undefined
    },
    expose: [{ definition: steps, options: (p) => ({ key: (p as { key?: string }).key }) }, flaky, shell, solo, noisy],
    bodyLimit: 1024,
    heartbeat: "200 millis",
    ...extra
  })
  const app = new Koa().use(router.routes()).use(router.allowedMethods())
  configure(app)
  const server = app.listen(0, "127.0.0.1")
  await new Promise<void>((resolve) => server.once("listening", resolve))
  const { port } = server.address() as AddressInfo
  // a first request, as a running server has had (the store's first queries are the slow ones)
  await fetch(`http://127.0.0.1:${port}${prefix}/stats`, { headers: { authorization: "Bearer warm-up" } })
  return {
    url: `http://127.0.0.1:${port}${prefix}`,
    jobs,
    subscriptions: () => open,
    close: async () => {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
      await jobs.close()
    }
  }
}

/** fetch with a bearer token and a JSON body. */
export const call = async (
  url: string,
  init: { method?: string; owner?: string; body?: unknown; headers?: Record<string, string> } = {}
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
): Promise<{ status: number; body: any }> => {
  const headers: Record<string, string> = { ...init.headers }
  if (init.owner) headers.authorization = `Bearer ${init.owner}`
  let body: string | undefined
  if (init.body !== undefined) {
    body = typeof init.body === "string" ? init.body : JSON.stringify(init.body)
    headers["content-type"] ??= "application/json"
  }
  const res = await fetch(url, { method: init.method ?? "GET", headers, ...(body !== undefined ? { body } : {}) })
  const text = await res.text()
  return { status: res.status, body: text ? JSON.parse(text) : undefined }
}

/** Poll `f` until `until` holds, at most `withinMs`. */
export const eventually = async <A>(f: () => Promise<A>, until: (a: A) => boolean, withinMs = 10_000): Promise<A> => {
  const start = Date.now()
  while (true) {
    const a = await f()
    if (until(a)) return a
    if (Date.now() - start > withinMs) throw new Error(`condition not met within ${withinMs} ms: ${JSON.stringify(a)}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

/** One parsed Server-Sent Event. */
export interface SseFrame {
  readonly event: string
  readonly id: string | undefined
  readonly data: Record<string, unknown>
}

/** One block of a Server-Sent Events stream: its event name, id, data line and comment lines. */
export interface SseBlock {
  readonly event: string
  readonly id: string | undefined
  readonly data: string | undefined
  readonly comments: ReadonlyArray<string>
}

/**
 * The blocks of an SSE response as they arrive, one array per chunk read, until
 * the body ends; leaving the loop early cancels the body, an abort rejects.
 */
export async function* sseChunks(res: Response): AsyncGenerator<ReadonlyArray<SseBlock>> {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader()
  let buffer = ""
  let ended = false
  try {
    while (true) {
      const { done, value } = await reader.read()
      if (done) {
        ended = true
        return
      }
      buffer += value
      const blocks: Array<SseBlock> = []
      let sep: number
      while ((sep = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, sep)
        buffer = buffer.slice(sep + 2)
        let event = "message"
        let id: string | undefined
        let data: string | undefined
        const comments: Array<string> = []
        for (const line of block.split("\n")) {
          if (line.startsWith("data: ")) data = line.slice(6)
          else if (line.startsWith("event: ")) event = line.slice(7)
          else if (line.startsWith("id: ")) id = line.slice(4)
          else if (line.startsWith(":")) comments.push(line)
        }
        blocks.push({ event, id, data, comments })
      }
      yield blocks
    }
  } finally {
    if (!ended) await reader.cancel().catch(() => undefined)
  }
}

/**
 * Read an SSE response until it ends or `stopAfter` says so: `events` are the
 * `job` frames' data, `frames` every frame with its event name and id.
 */
export const readEvents = async (
  res: Response,
  stopAfter: (events: Array<Record<string, unknown>>, frames: Array<SseFrame>) => boolean = () => false
) => {
  const events: Array<Record<string, unknown>> = []
  const frames: Array<SseFrame> = []
  const comments: Array<string> = []
  for await (const blocks of sseChunks(res)) {
    for (const block of blocks) {
      comments.push(...block.comments)
      if (block.data === undefined) continue
      const data = JSON.parse(block.data) as Record<string, unknown>
      frames.push({ event: block.event, id: block.id, data })
      if (block.event === "job") events.push(data)
    }
    if (stopAfter(events, frames)) return { events, frames, comments, ended: false }
  }
  return { events, frames, comments, ended: true }
}
