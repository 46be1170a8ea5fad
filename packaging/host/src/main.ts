/**
 * A small host service, as a user writes it after `npm install` of the packed
 * packages: its own pg pool and Kysely, its own migrations run by its own
 * Kysely migrator together with jobtrack's, a Koa app whose endpoint saves a
 * row and enqueues a job in one transaction, and jobtrack's router. It runs one
 * tracked job end to end over HTTP and exits (0 when the job completed).
 *
 * Usage: node dist/main.js <database-url> <schema>
 */
import Router from "@koa/router"
import { Effect, Schema } from "effect"
import Koa from "koa"
import { Kysely, Migrator, PostgresDialect, sql } from "kysely"
import type { Generated } from "kysely"
import pg from "pg"
import { jobsRouter } from "@jobtrack/adapter-koa"
import { KyselyStore, migrations, Notifier } from "@jobtrack/adapter-kysely"
import { JobDefinition, Jobtrack, RetryPolicy } from "@jobtrack/core"

const [url, schema] = process.argv.slice(2) as [string, string]

interface Database {
  documents: { id: Generated<number>; name: string }
}

const pool = new pg.Pool({ connectionString: url, max: 4 })
pool.on("error", (err) => console.error("idle connection lost:", err.message))
const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) })
// the host's migrator (kysely 0.28: from "kysely"): its own migration ran first, jobtrack's are added later
const mine = {
  host_0001_documents: {
    up: async (d: Kysely<unknown>) => {
      await sql`create table ${sql.id(schema, "documents")} (id serial primary key, name text not null)`.execute(d)
    }
  }
}
const migrate = async (list: Record<string, { up: (d: Kysely<unknown>) => Promise<void> }>) => {
  const { error } = await new Migrator({ db, provider: { getMigrations: async () => list }, migrationTableSchema: schema, allowUnorderedMigrations: true }).migrateToLatest()
  if (error) throw error
}
await sql`create schema if not exists ${sql.id(schema)}`.execute(db)
await migrate(mine)
await migrate({ ...mine, ...migrations(`${schema}_jobs`) })

const summarize = JobDefinition.make({
  type: "summarize",
  payload: Schema.Struct({ documentId: Schema.Number, name: Schema.String }),
  result: Schema.Struct({ words: Schema.Number }),
  retry: RetryPolicy.exponential({ initial: "1 second", maxRetries: 2 }),
  handler: ({ name }, ctx) =>
    Effect.gen(function*() {
      yield* ctx.progress(50, `reading ${name}`)
      return { words: name.split(" ").length }
    })
})

const jobs = Jobtrack.make({
  store: KyselyStore.layer({ db, schema: `${schema}_jobs`, notifier: Notifier.postgres(url) }),
  definitions: [summarize],
  runner: { concurrency: 2, pollInterval: "200 millis" }
})

const api = new Router()
api.post("/api/documents", async (ctx) => {
  const name = ctx.get("x-document-name")
  const job = await db.transaction().execute(async (trx) => {
    const { id } = await trx.withSchema(schema).insertInto("documents").values({ name }).returning("id").executeTakeFirstOrThrow()
    return (await jobs.enqueue(summarize, { documentId: id, name }, { owner: "ann", transaction: trx })).job
  })
  ctx.status = 202
  ctx.body = { job_id: job.id }
})
const router = jobsRouter(jobs, { prefix: "/api/jobs", owner: (ctx) => ctx.get("authorization").replace(/^Bearer /, "") || null })
const app = new Koa()
app.use(api.routes()).use(router.routes()).use(router.allowedMethods())

await jobs.start()
const server = app.listen(0, "127.0.0.1")
await new Promise((resolve) => server.once("listening", resolve))
const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`

let status = "unknown"
let exitCode = 1
try {
  const created = await fetch(`${base}/api/documents`, { method: "POST", headers: { "x-document-name": "a tracked job end to end" } })
  const { job_id } = (await created.json()) as { job_id: string }
  const deadline = Date.now() + 20_000
  let view: { status: string; result?: unknown } = { status: "pending" }
  while (Date.now() < deadline && view.status !== "completed" && view.status !== "failed") {
    const res = await fetch(`${base}/api/jobs/${job_id}`, { headers: { authorization: "Bearer ann" } })
    view = (await res.json()) as typeof view
    if (view.status !== "completed") await new Promise((r) => setTimeout(r, 100))
  }
  const other = await fetch(`${base}/api/jobs/${job_id}`, { headers: { authorization: "Bearer bob" } })
  status = view.status
  console.log(`RESULT ${JSON.stringify({ node: process.version, status, result: view.result, other: other.status })}`)
  exitCode = status === "completed" && other.status === 404 ? 0 : 1
} finally {
  server.close()
  await jobs.close()
  await db.destroy()
}
process.exit(exitCode)
