/**
 * The console's lists and counts filtered by queue or type on PostgreSQL
 * (migration 0021, `AdminFilter.pairs`): read as one range per (queue, type,
 * status) of `jobs_admin_queue_type_created`, they give the same pages and
 * the same capped counts as the rows themselves, sorted and counted here:
 * several queues per type and types per queue, shared creation times (ties
 * broken by id), keyset pages both ways, a status subset, an owner, a value
 * with no job, and a count cap smaller than a status's jobs; the same
 * without a queue or type (migration 0025: pending, running and completed by
 * pairs, the others from `jobs_admin_off_path`; more pairs than one count
 * statement merges);
 * and the claim's first read cannot use that index (its keys are in the
 * collation "C").
 */
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { Effect, Exit, Scope } from "effect"
import type { AdminStore, JobStatus, JobStoreShape } from "@jobtrack/core"
import { KyselyStore, migrate } from "@jobtrack/adapter-kysely"
import { Kysely, PostgresDialect, sql } from "kysely"
import pg from "pg"
import { databaseUrl, randomSchema } from "./databases.js"

const url = databaseUrl()

interface Row {
  readonly id: string
  readonly queue: string
  readonly type: string
  readonly status: JobStatus
  readonly owner: string | null
  readonly created: number
}

describe.skipIf(!url)("console lists and counts by queue or type (one index on both)", { tags: ["postgres"] }, () => {
  let db: Kysely<unknown>
  const schema = randomSchema("jt_ranges")
  const scope = Effect.runSync(Scope.make())
  let store: JobStoreShape
  let rows: Array<Row> = []
  beforeAll(async () => {
    db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url!, max: 4 }) }) })
    await migrate(db, { schema })
    // 600 jobs: 3 queues, 4 types (type-3 only in q-2), every status, creation times shared by 3 jobs each
    await sql.raw(`
      insert into "${schema}".jobs (id, type, queue, payload, status, max_attempts, attempts, run_at, owner,
        created_at, completed_at, updated_at)
      select gen_random_uuid(), case when i % 7 = 0 then 'type-3' else 'type-' || (i % 3) end,
        case when i % 7 = 0 then 'q-2' else 'q-' || (i % 5 % 3) end, '{}',
        (array['pending', 'processing', 'retrying', 'completed', 'failed', 'cancelled'])[1 + (i * 13) % 6],
        1, 0, c, case when i % 2 = 0 then 'ann' end, c,
        case when (i * 13) % 6 >= 3 then c + interval '1 second' end, c
      from generate_series(1, 600) i, lateral (select timestamptz '2026-01-01' + (i / 3) * interval '1 minute' as c) x`)
      .execute(db)
    // and 140 jobs of 70 types of their own in one queue, so that a filter naming neither a queue
    // nor a type counts more (queue, type) pairs than one statement merges (64, store/Admin.ts)
    await sql.raw(`
      insert into "${schema}".jobs (id, type, queue, payload, status, max_attempts, attempts, run_at, owner,
        created_at, completed_at, updated_at)
      select gen_random_uuid(), 'many-' || (i % 70), 'q-m', '{}',
        (array['pending', 'processing', 'retrying', 'completed', 'failed', 'cancelled'])[1 + i % 6],
        1, 0, c, null, c, case when i % 6 >= 3 then c + interval '1 second' end, c
      from generate_series(1, 140) i, lateral (select timestamptz '2026-01-01' + (i / 2) * interval '1 minute' as c) x`)
      .execute(db)
    await sql.raw(`analyze "${schema}".jobs`).execute(db)
    const read = await sql<{ id: string; queue: string; type: string; status: JobStatus; owner: string | null; created_at: Date }>`
      select id, queue, type, status, owner, created_at from ${sql.id(schema, "jobs")}`.execute(db)
    rows = read.rows.map((r) => ({ ...r, created: new Date(r.created_at).getTime() }))
    store = await Effect.runPromise(Scope.provide(KyselyStore.make({ db, schema }), scope))
  })
  afterAll(async () => {
    await Effect.runPromise(Scope.close(scope, Exit.void))
    await sql.raw(`drop schema if exists "${schema}" cascade`).execute(db)
    await db.destroy()
  })

  const matches = (f: AdminStore.AdminFilter) => (r: Row) =>
    (f.queue === undefined || r.queue === f.queue) && (f.type === undefined || r.type === f.type) &&
    (f.status === undefined || f.status.includes(r.status)) &&
    (f.owner === undefined || r.owner === f.owner)

  const filters: Array<AdminStore.AdminFilter> = [
    { type: "type-1" },
    { type: "type-3" },
    { queue: "q-2" },
    { queue: "q-0", status: ["completed", "pending"] },
    { type: "type-0", queue: "q-1" },
    { type: "type-2", owner: null },
    { type: "no-such-type" },
    { queue: "no-such-queue" },
    // neither (migration 0025): pending, running and completed by pairs, the others by status
    {},
    { status: ["failed", "pending", "processing"] },
    { status: ["processing"] },
    { status: ["retrying", "cancelled"] },
    { owner: null }
  ]

  it("pages through every match in creation order, both ways, with keyset cursors", async () => {
    for (const filter of filters) {
      for (const order of ["asc", "desc"] as const) {
        const expected = rows.filter(matches(filter)).sort((a, b) =>
          (a.created - b.created || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)) * (order === "asc" ? 1 : -1)
        ).map((r) => r.id)
        const got: Array<string> = []
        let cursor: AdminStore.AdminCursor | undefined
        for (let page = 0; page < 100; page++) {
          const p = await Effect.runPromise(store.adminList({ filter, sort: "createdAt", order, limit: 17, cursor }))
          got.push(...p.items.map((j) => j.id))
          if (p.next === null) break
          cursor = p.next
        }
        assert.deepStrictEqual(got, expected, `${JSON.stringify(filter)} ${order}`)
      }
    }
  })

  it("counts per queue, type and status: exact under the cap, the newest cap + 1 over it", async () => {
    for (const filter of filters.filter((f) => f.status === undefined && f.owner === undefined)) {
      for (const cap of [1_000, 9]) {
        const got = await Effect.runPromise(store.adminCounts({ filter, cap }))
        const expected = new Map<string, number>()
        const capped = new Set<string>()
        for (const status of ["pending", "processing", "retrying", "completed", "failed", "cancelled"] as const) {
          const all = rows.filter(matches({ ...filter, status: [status] }))
            .sort((a, b) => b.created - a.created || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0))
          if (all.length > cap) capped.add(status)
          for (const r of all.slice(0, cap + 1)) {
            const k = `${r.queue}/${r.type}/${status}`
            expected.set(k, (expected.get(k) ?? 0) + 1)
          }
        }
        assert.deepStrictEqual(
          new Map(got.rows.map((r) => [`${r.queue}/${r.type}/${r.status}`, r.count])),
          expected,
          `${JSON.stringify(filter)} cap ${cap}`
        )
        for (const r of got.rows) assert.strictEqual(r.capped, capped.has(r.status), `${JSON.stringify(filter)} ${r.status}`)
      }
    }
  })

  it("reads a type's and a queue's ranges from the one index on (queue, type, status, created_at, id)", async () => {
    const indexes = await sql<{ name: string }>`
      select indexrelid::regclass::text as name from pg_index where indrelid = ${`"${schema}".jobs`}::regclass`.execute(db)
    const names = indexes.rows.map((r) => r.name.replace(/^.*\./, ""))
    // migration 0025: no index of every job's status, one of those off the usual path
    assert.include(names, "jobs_admin_queue_type_created")
    assert.include(names, "jobs_admin_off_path")
    assert.notInclude(names, "jobs_admin_status_created")
    assert.notInclude(names, "jobs_admin_type_created")
    assert.notInclude(names, "jobs_admin_queue_created")
    const explain = async (q: string) =>
      (await sql.raw<{ "QUERY PLAN": string }>(`explain ${q}`).execute(db)).rows.map((r) => r["QUERY PLAN"]).join("\n")
    // the console's range of a pair and status is read from it
    const range = await explain(`select created_at, id from "${schema}".jobs
      where queue collate "C" = 'q-1' and type collate "C" = 'type-1' and status = 'failed'
      order by created_at desc, id desc limit 51`)
    assert.include(range, "jobs_admin_queue_type_created", range)
    // the claim's first read cannot use it (its keys are in the collation "C"), even with the
    // claim index gone and sequential scans off: no index condition on its queue or type
    await db.connection().execute(async (c) => {
      await sql.raw(`begin`).execute(c)
      try {
        await sql.raw(`drop index "${schema}".jobs_claim; set local enable_seqscan = off`).execute(c)
        const claim = (await sql.raw<{ "QUERY PLAN": string }>(`explain select id from "${schema}".jobs
          where status in ('pending', 'retrying') and queue = 'q-1' and type = any('{type-1}'::text[]) and run_at <= now()
          order by priority desc, run_at, id limit 10`).execute(c)).rows.map((r) => r["QUERY PLAN"]).join("\n")
        const conds = claim.split("\n").filter((l) => l.includes("Index Cond"))
        assert.isFalse(conds.some((l) => /queue|type/.test(l)), claim)
      } finally {
        await sql.raw(`rollback`).execute(c)
      }
    })
  })
})
