/**
 * The seeds' newsletter flow as a team without Effect would write it: a Zod
 * payload, a plain async handler running the pipeline as a child process,
 * `await ctx.progress`, `ctx.signal`, `FatalError`, the Promise facade.
 * No `effect` import in this file. Runs on PostgreSQL (DATABASE_URL), in its
 * own schema.
 */
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import pg from "pg"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { z } from "zod"
import { Command, FatalError, JobDefinition, Jobtrack, RetryPolicy } from "@jobtrack/core"
import type { AsyncJobContext, JobView } from "@jobtrack/core"
import { layerPostgres } from "@jobtrack/adapter-kysely"
import { postgresUrl } from "../../../scripts/test-env.js"

const url = postgresUrl()

const pipeline = fileURLToPath(new URL("../src/pipeline.ts", import.meta.url))
const schema = `newsletters_async_${Math.random().toString(36).slice(2, 8)}`

/** Whether a process is alive (a zombie is not). */
const alive = (pid: number) => {
  try {
    return !/\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"))
  } catch {
    return false
  }
}

/** Poll `f` until `ok` holds, at most `withinMs` (a bounded wait on a real signal). */
const until = async <A>(f: () => A | Promise<A>, ok: (a: A) => boolean, withinMs: number, what: string): Promise<A> => {
  const start = Date.now()
  for (;;) {
    const a = await f()
    if (ok(a)) return a
    if (Date.now() - start > withinMs) throw new Error(`${what}: not reached within ${withinMs} ms`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

const ExtractRequest = z.object({
  hours_back: z.number().min(1).max(168),
  max_results: z.number().int().min(1).max(500),
  senders: z.array(z.string().regex(/^[^@\s]+@[^@\s]+$/)).optional()
})
const Newsletters = z.object({
  newsletters: z.array(z.object({ id: z.string(), sender: z.string(), subject: z.string(), links: z.array(z.object({ text: z.string(), url: z.string() })) }))
})

const children: Array<number> = []
const aborts: Array<string> = []

/** The pipeline as a child process; its PROGRESS lines become job progress. Dies when ctx.signal aborts. */
const extract = async (request: z.infer<typeof ExtractRequest>, ctx: AsyncJobContext) => {
  ctx.signal.addEventListener("abort", () => aborts.push(`${ctx.id}:${(ctx.signal.reason as Error).name}`))
  if (request.senders?.includes("revoked@example.com")) throw new FatalError({ message: "mailbox access revoked" })
  let result: unknown
  await Command.runPromise(process.execPath, [pipeline, JSON.stringify(request)], {
    signal: ctx.signal,
    env: { ...process.env, PIPELINE_TIME_SCALE: "0.1" },
    killGraceMs: 500,
    onStart: (pid) => children.push(pid),
    onStdout: async (line) => {
      const progress = /^PROGRESS (\S+) (.*)$/.exec(line)
      if (progress) await ctx.progress(Number(progress[1]), progress[2])
      if (line.startsWith("RESULT ")) result = JSON.parse(line.slice(7))
    }
  })
  return result as z.infer<typeof Newsletters>
}

const extractNewsletters = JobDefinition.make({
  type: "newsletter-extract-async",
  payload: ExtractRequest,
  result: Newsletters,
  retry: RetryPolicy.exponential({ initial: "300 millis", maxRetries: 1 }),
  group: { key: (_, job) => job.owner, limit: 2 },
  run: extract
})

const extractWithDeadline = JobDefinition.make({
  type: "newsletter-extract-deadline",
  payload: ExtractRequest,
  result: Newsletters,
  retry: RetryPolicy.none,
  timeout: "600 millis",
  run: extract
})

describe.skipIf(!url)("newsletter flow with Zod and async/await only, on PostgreSQL", { tags: ["postgres"] }, () => {
  let jobs: Jobtrack.Jobtrack

  beforeAll(async () => {
    jobs = Jobtrack.make({
      store: layerPostgres({ connectionString: url!, schema }),
      definitions: [extractNewsletters, extractWithDeadline],
      runner: { pollInterval: "100 millis", shutdownGrace: "1 second", progressInterval: "20 millis" }
    })
    await jobs.start()
  })
  afterAll(async () => {
    await jobs?.close()
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    await client.query(`drop schema if exists "${schema}" cascade`)
    await client.end()
  })

  it("a bad request is refused with every Zod issue and its path; nothing is stored", async () => {
    const err = await jobs.enqueueUnknown("newsletter-extract-async", { hours_back: 500, max_results: "x", senders: ["nope"] }, { owner: "ann" })
      .then(() => null, (e: { _tag: string; issues: ReadonlyArray<{ path: ReadonlyArray<string | number> }> }) => e)
    assert.strictEqual(err?._tag, "InvalidInput")
    assert.deepStrictEqual(err!.issues.map((i) => i.path.join(".")).sort(), ["payload.hours_back", "payload.max_results", "payload.senders.0"])
    assert.strictEqual((await jobs.list({ owner: "ann" })).items.length, 0)
  })

  it("progress through the pipeline's steps, then the result, validated by its Zod schema", async () => {
    const { job } = await jobs.enqueue(extractNewsletters, { hours_back: 24, max_results: 20 }, { owner: "ann" })
    const steps = new Set<string>()
    const percents: Array<number> = []
    let last: JobView | undefined
    for await (const view of jobs.watch(job.id)) {
      if (view.progressMessage) steps.add(view.progressMessage.split("…")[0]!)
      percents.push(view.progress)
      last = view
    }
    assert.strictEqual(last?.status, "completed")
    assert.strictEqual(last?.progress, 100)
    // the watcher sees the steps as they are written (coalesced, so not necessarily every one)
    assert.include([...steps], "Resolving redirect links")
    assert.isAtLeast(steps.size, 3)
    assert.deepStrictEqual(percents, [...percents].sort((a, b) => a - b))
    assert.isAbove(Newsletters.parse(last?.result).newsletters.length, 0)
  })

  it("cancel kills the pipeline process and the job ends cancelled", async () => {
    const before = children.length
    const { job } = await jobs.enqueue(extractNewsletters, { hours_back: 100, max_results: 100 }, { owner: "bob" })
    await until(() => jobs.get(job.id), (v) => v.status === "processing" && v.progress > 0, 10_000, "running")
    const pid = children[before]!
    assert.isTrue(alive(pid))
    await jobs.cancel(job.id)
    await until(() => alive(pid), (a) => !a, 3_000, "pipeline killed")
    const final = await until(() => jobs.get(job.id), (v) => v.status === "cancelled", 5_000, "cancelled")
    assert.strictEqual(final.attempts, 1)
    assert.include(aborts, `${job.id}:AbortError`)
  })

  it("a failing mailbox is retried after the backoff, then failed with the pipeline's error", async () => {
    const { job } = await jobs.enqueue(extractNewsletters, { hours_back: 1, max_results: 5, senders: ["fail@example.com"] }, { owner: "carla" })
    const failed = await until(() => jobs.get(job.id), (v) => v.status === "failed", 15_000, "failed")
    assert.strictEqual(failed.attempts, 2)
    assert.match(failed.errorMessage!, /mailbox authentication failed for fail@example.com/)
    const [first, second] = failed.errors
    assert.isAtLeast(second!.at.getTime() - first!.at.getTime(), 300)
  })

  it("a FatalError stops after 1 attempt, whatever retries are left", async () => {
    const { job } = await jobs.enqueue(extractNewsletters, { hours_back: 1, max_results: 5, senders: ["revoked@example.com"] }, { owner: "dan" })
    const failed = await until(() => jobs.get(job.id), (v) => v.status === "failed", 10_000, "failed")
    assert.deepStrictEqual([failed.attempts, failed.errorMessage], [1, "mailbox access revoked"])
  })

  it("a timeout aborts ctx.signal: the pipeline process dies and the attempt fails as timed out", async () => {
    const before = children.length
    const { job } = await jobs.enqueue(extractWithDeadline, { hours_back: 100, max_results: 100 }, { owner: "erin" })
    const failed = await until(() => jobs.get(job.id), (v) => v.status === "failed", 10_000, "failed")
    assert.strictEqual(failed.errorMessage, "timed out after 600 ms")
    assert.include(aborts, `${job.id}:TimeoutError`)
    const pid = children[before]!
    await until(() => alive(pid), (a) => !a, 3_000, "pipeline killed by the timeout")
  })
})
