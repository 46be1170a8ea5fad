/**
 * The console's charts on PostgreSQL (migration 0012, store/AdminSeries.ts):
 * a chart read from the jobs alone (a read-only connection cannot write the
 * summary) equals the one read from the summary of finished minutes, per
 * minute, per quarter hour and per queue, also when read again (buckets kept
 * in memory); and the summary is written by the read, not by the jobs' own
 * writes.
 */
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { Effect, Exit, Scope } from "effect"
import type { JobStoreShape } from "@jobtrack/core"
import { KyselyStore, migrate } from "@jobtrack/adapter-kysely"
import { Kysely, PostgresDialect, sql } from "kysely"
import pg from "pg"
import { databaseUrl, randomSchema } from "./databases.js"

const url = databaseUrl()

describe.skipIf(!url)("console charts from summarized minutes on PostgreSQL", { tags: ["postgres"] }, () => {
  let db: Kysely<unknown>
  let readOnly: Kysely<unknown>
  const schema = randomSchema("jt_series")
  beforeAll(() => {
    db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url!, max: 2 }) }) })
    readOnly = new Kysely<unknown>({
      dialect: new PostgresDialect({
        pool: new pg.Pool({ connectionString: url!, max: 2, options: "-c default_transaction_read_only=on" })
      })
    })
  })
  afterAll(async () => {
    await sql.raw(`drop schema if exists "${schema}" cascade`).execute(db)
    await readOnly.destroy()
    await db.destroy()
  })

  it("the same chart from the jobs (read-only) and from the summary, which the read writes", async () => {
    await migrate(db, { schema })
    const s = `"${schema}"`
    // 3,000 finished jobs over the last two hours: 2 queues, 3 types, durations 1 ms to 60 s, waits 0 to 3 s
    await sql.raw(`
      insert into ${s}.jobs (id, type, queue, payload, status, error_message, max_attempts, attempts, run_at,
        created_at, started_at, completed_at, updated_at)
      select gen_random_uuid(), 'type-' || (i % 3), 'queue-' || (i % 2), '{}',
        case when i % 10 = 0 then 'failed' when i % 17 = 0 then 'cancelled' else 'completed' end,
        case when i % 10 = 0 then 'boom' end, 1, 1, f - d - w, f - d - w, f - d, f, f
      from generate_series(1, 3000) i,
        lateral (select now() - (i * 2.4) * interval '1 second' as f,
          ((i * 7919) % 60000) * interval '1 millisecond' as d, ((i * 104729) % 3000) * interval '1 millisecond' as w) x`)
      .execute(db)
    const scope = Effect.runSync(Scope.make())
    const store = (k: Kysely<unknown>) => Effect.runPromise(Scope.provide(KyselyStore.make({ db: k, schema }), scope))
    const [ro, rw]: Array<JobStoreShape> = [await store(readOnly), await store(db)]
    const summarized = async () =>
      Number((await sql<{ n: number }>`select count(*)::int as n from ${sql.id(schema, "series_rollup")}`.execute(db)).rows[0]!.n)
    try {
      const now = Date.now()
      const minutes = { filter: {}, from: new Date(Math.floor(now / 60_000) * 60_000 - 7_200_000), to: new Date(Math.ceil(now / 60_000) * 60_000), bucketMs: 60_000 }
      const quarters = { ...minutes, from: new Date(Math.floor(now / 900_000) * 900_000 - 7_200_000), bucketMs: 900_000 }
      const queue = { ...quarters, filter: { queue: "queue-1" } }
      const type = { ...minutes, filter: { queue: "queue-0", type: "type-2" } }
      const fromJobs = []
      for (const r of [minutes, quarters, queue, type]) fromJobs.push(await Effect.runPromise(ro.series(r)))
      assert.strictEqual(await summarized(), 0, "a read-only connection wrote the summary")
      const fromSummary = []
      for (const r of [minutes, quarters, queue, type]) fromSummary.push(await Effect.runPromise(rw.series(r)))
      assert.isAbove(await summarized(), 0)
      assert.deepStrictEqual(fromSummary, fromJobs)
      // read again: the buckets read from the summary alone come from memory, the rest is read
      const again = []
      for (const r of [minutes, quarters, queue, type]) again.push(await Effect.runPromise(rw.series(r)))
      assert.deepStrictEqual(again, fromJobs)
      const total = fromJobs[0]!.reduce((n, b) => n + b.completed + b.failed + b.cancelled, 0)
      assert.strictEqual(total, 3000)
      assert.isTrue(fromJobs[1]!.some((b) => b.durationP95Ms !== null && b.durationP95Ms > 50_000))
    } finally {
      await Effect.runPromise(Scope.close(scope, Exit.void))
    }
  })
})
