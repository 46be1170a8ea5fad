/**
 * The plans of a worker's whole round trip with a large history and stale
 * statistics (issue 13, item 1; migration 0009): the store's own statements —
 * enqueue, claim, heartbeat, progress, the batched completion, a failure
 * with a retry and one without, lease recovery, a get, and a prune with
 * nothing to prune — run through a store whose one connection has
 * auto_explain loaded, so the plans checked are the ones the store really
 * runs (plan shape, not timing). None may read the finished jobs: no
 * sequential scan of jobs, writes by primary key, prune through the
 * finish-time index.
 */
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { Effect, Exit, Scope } from "effect"
import { JobId } from "@jobtrack/core"
import type { JobStoreShape, NewJob } from "@jobtrack/core"
import { KyselyStore, migrate, Notifier } from "@jobtrack/adapter-kysely"
import { Kysely, PostgresDialect, sql } from "kysely"
import pg from "pg"
import { databaseUrl, explaining, randomSchema } from "./databases.js"

const url = databaseUrl()

describe.skipIf(!url)("a worker's statements with a large history on PostgreSQL", { tags: ["postgres"] }, () => {
  let db: Kysely<unknown>
  const schema = randomSchema("jt_hot")
  beforeAll(() => {
    db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url!, max: 2 }) }) })
  })
  afterAll(async () => {
    await sql.raw(`drop schema if exists "${schema}" cascade`).execute(db)
    await db.destroy()
  })

  it("enqueue, claim, heartbeat, progress, complete, fail, recover, get and prune stay off the 100,000 finished rows", async () => {
    await migrate(db, { schema })
    const s = `"${schema}"`
    // no autovacuum: the statistics stay whatever the last ANALYZE saw
    await sql.raw(`alter table ${s}.jobs set (autovacuum_enabled = false)`).execute(db)
    await sql.raw(`
      insert into ${s}.jobs (id, type, queue, payload, result, status, progress, max_attempts, attempts, run_at, token,
        created_at, started_at, completed_at, updated_at)
      select gen_random_uuid(), 'h', 'default', '{}', 'null', 'completed', 100, 1, 1, now() - interval '1 day', 1,
        now() - interval '1 day', now() - interval '1 day', now() - interval '1 day', now() - interval '1 day'
      from generate_series(1, 100000)`).execute(db)
    await sql.raw(`analyze ${s}.jobs`).execute(db)

    // the store's one connection explains every statement it runs, nested ones included
    const plans: Array<string> = []
    const explained = explaining(url!, plans)
    const scope = Effect.runSync(Scope.make())
    try {
      const store: JobStoreShape = await Effect.runPromise(
        Scope.provide(KyselyStore.make({ db: explained, schema, notifier: Notifier.postgres(url!) }), scope)
      )
      const run = <A, E>(e: Effect.Effect<A, E>) => Effect.runPromise(e)
      const job = (i: number): NewJob => ({
        id: JobId.make(), type: "h", queue: "default", payload: { i }, maxAttempts: i % 2 === 0 ? 3 : 1,
        priority: 0, runAt: new Date(Date.now() - 1000), owner: null, key: null, groupKey: null, groupLimit: null
      })
      // the backlog arrives after the statistics: the planner believes every job is finished
      for (let b = 0; b < 4; b++) await run(store.enqueueMany(Array.from({ length: 250 }, (_, i) => job(b * 250 + i))))
      plans.length = 0

      // past plpgsql's first five custom plans, into its generic ones
      for (let round = 0; round < 8; round++) {
        const claimed = await run(store.claim({ queues: ["default"], types: ["h"], workerId: "w", limit: 10, leaseMs: 30_000 }))
        assert.strictEqual(claimed.length, 10)
        const [first, second, third, ...rest] = claimed.map((j) => ({ id: j.id, token: j.token }))
        await run(store.heartbeat(first!, 30_000))
        await run(store.progress(first!, 50, "half"))
        await run(store.fail({ ...second!, message: "again", retryAt: new Date(Date.now() + 60_000) }))
        await run(store.fail({ ...third!, message: "no", retryAt: null }))
        const done = await run(store.completeMany([first!, ...rest].map((lease) => ({ lease, result: { ok: true } }))))
        assert.strictEqual(done.completed.length, 8)
        await run(store.get(first!.id))
        await run(store.recoverExpired())
      }
      await run(store.prune(new Date(Date.now() - 2 * 86_400_000)))

      const stale = await sql<{ n: string }>`select reltuples::bigint as n from pg_class where oid = ${`${s}.jobs`}::regclass`
        .execute(db)
      assert.strictEqual(Number(stale.rows[0]!.n), 100_000, "the statistics were refreshed: the test would prove nothing")

      // told apart by what they are, not by their SQL's wording, which other changes may rewrite
      // (the completion's update is in complete_many's body, where the table is not quoted: "schema".jobs)
      const writes = plans.filter((p) => /Query Text:[\s\S]*?\bupdate "[^"]+"\."?jobs"?\s/i.test(p))
      const prunes = plans.filter((p) => /Query Text:[\s\S]*?\bcompleted_at </.test(p))
      // per round: heartbeat, progress, two failures, the completion, lease recovery
      assert.isAtLeast(writes.length, 8 * 6, `too few plans of the holder's writes among ${plans.length}`)
      assert.isAtLeast(prunes.length, 1, "no plan of prune")
      assert.isAtLeast(plans.filter((p) => p.includes("jobs_claim")).length, 8, "no plan of a claim read jobs_claim")
      for (const p of plans) assert.notMatch(p, /Seq Scan on jobs\b/, `a sequential scan of jobs:\n${p}`)
      // a write finds its jobs by primary key or among the running (jobs_processing, or the
      // processing range of the console's status index when the statistics say nothing runs)
      for (const p of writes) {
        assert.match(p, /jobs_pkey|jobs_processing|Index Cond: \(\(?status = 'processing'::text\)/,
          `a write finds its jobs neither by primary key nor among the running:\n${p}`)
      }
      // the batched completion reads its jobs by primary key, never all the running jobs,
      // and the claim's and completion's statements run on plans made once per connection
      // (generic: parameters, not the call's values, in their conditions; migration 0028)
      const completions = writes.filter((p) => p.includes("jsonb_to_recordset"))
      assert.isAtLeast(completions.length, 8, "no plan of the batched completion")
      const claimWrites = plans.filter((p) => p.includes("where j.id = any(v_ids)"))
      assert.isAtLeast(claimWrites.length, 8, "no plan of the claim's update")
      for (const p of completions) {
        assert.include(p, "jobs_pkey", `the completion does not find its jobs by primary key:\n${p}`)
        assert.notInclude(p, "jobs_processing", `the completion reads the running jobs:\n${p}`)
      }
      for (const p of [...completions, ...claimWrites]) {
        assert.notMatch(p, /= ANY \('\{/, `a plan made for one call's values (a custom plan):\n${p}`)
      }
      for (const p of prunes) {
        assert.include(p, "jobs_admin_finished", `prune does not read the finish-time index:\n${p}`)
      }
    } finally {
      await Effect.runPromise(Scope.close(scope, Exit.void))
      await explained.destroy()
    }
  }, 120_000)
})
