/**
 * The plans of a pending job's view that counts (migrations 0029, 0035, 0038, 0040):
 * the jobs ahead are counted from `jobs_claim` alone, an index-only scan in
 * claim order stopped at 1,000 (no sort, no bitmap), the same-priority range
 * checking one key per job (0035), which visits no row of the
 * table once a vacuum has set the visibility map (as autovacuum leaves a
 * table after a fill); whether another limited group's job is ahead is asked
 * of `jobs_claim_limited`. The plans are the ones the store runs: its one
 * connection has auto_explain loaded, nested statements and row counts
 * included (plan shape, not timing). On a pool with `Prepared.install` (what
 * `postgres()` opens) the view is one named prepared statement and answers
 * as without it.
 */
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { Effect, Exit, Scope } from "effect"
import { JobId } from "@jobtrack/core"
import type { JobStoreShape } from "@jobtrack/core"
import { KyselyStore, migrate, Notifier, Prepared } from "@jobtrack/adapter-kysely"
import { Kysely, PostgresDialect, sql } from "kysely"
import pg from "pg"
import { databaseUrl, explaining, randomSchema } from "./databases.js"

const url = databaseUrl()

describe.skipIf(!url)("a pending job's view on PostgreSQL", { tags: ["postgres"] }, () => {
  let db: Kysely<unknown>
  const schema = randomSchema("jt_vplan")
  beforeAll(() => {
    db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url!, max: 2 }) }) })
  })
  afterAll(async () => {
    await sql.raw(`drop schema if exists "${schema}" cascade`).execute(db)
    await db.destroy()
  })

  it("counts the jobs ahead from jobs_claim alone, in claim order, and asks jobs_claim_limited about groups", async () => {
    await migrate(db, { schema })
    const s = `"${schema}"`
    await sql.raw(`alter table ${s}.jobs set (autovacuum_enabled = false)`).execute(db)
    // 3,000 pending jobs in "q"; in "g", 3 jobs of a full group (1 running) ahead of one without a group
    await sql.raw(`
      insert into ${s}.jobs (id, type, queue, payload, status, max_attempts, run_at, created_at, updated_at)
      select gen_random_uuid(), 't', 'q', '{}', 'pending', 1, now() - interval '1 hour' + g * interval '1 ms', now(), now()
      from generate_series(1, 3000) g;
      insert into ${s}.jobs (id, type, queue, payload, status, max_attempts, run_at, created_at, updated_at,
        group_key, group_limit, locked_until)
      select gen_random_uuid(), 't', 'g', '{}', case when g = 0 then 'processing' else 'pending' end, 1,
        now() - interval '1 hour' + g * interval '1 ms', now(), now(), 'full', 1,
        case when g = 0 then now() + interval '1 hour' end
      from generate_series(0, 3) g;
      insert into ${s}.jobs (id, type, queue, payload, status, max_attempts, run_at, created_at, updated_at)
      values (gen_random_uuid(), 't', 'g', '{}', 'pending', 1, now(), now(), now());`).execute(db)
    // what autovacuum does after a fill (its insert threshold): the visibility map set
    await sql.raw(`vacuum (analyze) ${s}.jobs`).execute(db)
    const at = async (queue: string, place: number) =>
      (await sql.raw<{ id: string }>(`
        select id from (select id, row_number() over (order by priority desc, run_at, id) as place
          from ${s}.jobs where queue = '${queue}' and status = 'pending') o where place = ${place}`).execute(db)).rows[0]!.id

    const plans: Array<string> = []
    const explained = explaining(url!, plans, "-c auto_explain.log_analyze=on -c auto_explain.log_timing=off")
    const scope = Effect.runSync(Scope.make())
    try {
      const store: JobStoreShape = await Effect.runPromise(
        Scope.provide(KyselyStore.make({ db: explained, schema, notifier: Notifier.none }), scope)
      )
      const position = async (id: string) => (await Effect.runPromise(store.view(id))).queuePosition
      const [first, middle, free] = [await at("q", 1), await at("q", 501), await at("g", 4)]
      plans.length = 0
      // past plpgsql's first five custom plans (the functions force generic ones; this checks it too)
      for (let round = 0; round < 8; round++) {
        assert.strictEqual(await position(first), 1)
        assert.strictEqual(await position(middle), 501)
      }
      // the group's 3 waiting jobs do not start first (its one place is taken): place 1
      assert.strictEqual(await position(free), 1)

      const counts = plans.filter((p) => /Query Text:[\s\S]*select count\(\*\)::int from \(select 1 from/.test(p))
      const probes = plans.filter((p) => /Query Text:[\s\S]*exists \(select 1 from \(select o\.group_key from/.test(p))
      assert.isAtLeast(counts.length, 16, `too few plans of the count among ${plans.length}`)
      assert.isAtLeast(probes.length, 16, `too few plans of the group probe among ${plans.length}`)
      for (const p of counts) {
        assert.match(p, /Index Only Scan using jobs_claim on jobs/, `the count does not read jobs_claim alone:\n${p}`)
        assert.match(p, /Heap Fetches: 0/, `the count visited the table despite the visibility map:\n${p}`)
        assert.notMatch(p, /Sort|Bitmap|Seq Scan/, `the count does not read jobs_claim in claim order:\n${p}`)
      }
      // the same-priority range ends at one key (migration 0035): its scan checks (run_at, id) only, not
      // run_at <= t as well, for each job ahead
      const sameRange = counts.flatMap((p) => p.match(/Index Only Scan using jobs_claim on jobs[^\n]*\n\s*Index Cond: [^\n]*ROW\(run_at, id\)[^\n]*/g) ?? [])
      assert.isAtLeast(sameRange.length, 16, "no count of the same-priority range")
      for (const scan of sameRange) assert.notMatch(scan, /run_at <=/, `the same-priority range checks two keys:\n${scan}`)
      // the count at place 501 stopped at the 500 jobs ahead (rows counted, not the queue)
      assert.isTrue(counts.some((p) => /Index Only Scan[^\n]*actual rows=500 /.test(p)), "no count read the 500 ahead")
      for (const p of probes) {
        assert.match(p, /jobs_claim_limited/, `the group probe does not read jobs_claim_limited:\n${p}`)
      }
      // a limited group's job ahead: the group-aware count (position_count2, 0040), exact: a walk in claim order
      // from jobs_claim, the higher priorities found one descent each
      const walks = plans.filter((p) => /Query Text:[\s\S]*with recursive p \(priority\)/.test(p))
      assert.isAtLeast(walks.length, 1, "another group's job ahead did not send the count to position_count2")
      for (const p of walks) {
        assert.match(p, /Index (Only )?Scan using jobs_claim on jobs/, `the walk does not read jobs_claim:\n${p}`)
        assert.notMatch(p, /Bitmap|Seq Scan/, `the walk does not read jobs_claim in claim order:\n${p}`)
      }
    } finally {
      await Effect.runPromise(Scope.close(scope, Exit.void))
      await explained.destroy()
    }
  }, 120_000)

  // migration 0041: job_view5 is inlined into the view's statement, and only a pending job that its
  // queue's boundary does not place past the cap calls position_place (job_view_flat4 ran a PL/pgSQL call,
  // and its statement, for every view); since 0042 the store's statement reads jobs itself, and a job
  // never claimed (these, token 0) calls no job_steps_of either
  it("a view that counts nothing is one statement, with no function call", async () => {
    const s = `"${schema}"`
    await sql.raw(`
      insert into ${s}.jobs (id, type, queue, payload, status, max_attempts, attempts, run_at, created_at, updated_at,
        started_at, completed_at, result)
      values (gen_random_uuid(), 't', 'q', '{}', 'completed', 1, 1, now(), now(), now(), now(), now(), 'null')`).execute(db)
    const ids = (await sql.raw<{ id: string }>(`
      (select id from ${s}.jobs where status = 'completed' limit 1)
      union all (select id from (select id, row_number() over (order by priority desc, run_at, id) as place
        from ${s}.jobs where queue = 'q' and status = 'pending') o where place in (1, 1201, 2501) order by place)`)
      .execute(db)).rows.map((r) => r.id)
    const [completed, first, toCap, behind] = ids as [string, string, string, string]
    const plans: Array<string> = []
    const explained = explaining(url!, plans, "-c auto_explain.log_analyze=on -c auto_explain.log_timing=off")
    const scope = Effect.runSync(Scope.make())
    try {
      const store: JobStoreShape = await Effect.runPromise(
        Scope.provide(KyselyStore.make({ db: explained, schema, notifier: Notifier.none }), scope)
      )
      // a view that walks to the cap reads the queue's boundary; the job at place 2,501 is behind it
      assert.strictEqual((await Effect.runPromise(store.view(toCap))).queuePositionCapped, true)
      const viewed = async (id: string) => {
        plans.length = 0
        const v = await Effect.runPromise(store.view(id))
        return { position: v.queuePosition, capped: v.queuePositionCapped, plans: [...plans] }
      }
      for (let round = 0; round < 7; round++) {
        const done = await viewed(completed)
        assert.deepStrictEqual([done.position, done.capped, done.plans.length], [null, false, 1], done.plans.join("\n"))
        const past = await viewed(behind)
        assert.deepStrictEqual([past.position, past.capped, past.plans.length], [1001, true, 1], past.plans.join("\n"))
        for (const p of [...done.plans, ...past.plans]) {
          // the function inlined: the row read by primary key, no function scan, no nested statement
          assert.match(p, /Index Scan using jobs_pkey on jobs x/, p)
          assert.notMatch(p, /Function Scan/, p)
          // 0042: no subquery (the steps' SubPlan) and no join (the lateral of the departures and the proof):
          // the plan is the get's, one index scan
          assert.notMatch(p, /SubPlan|Subquery Scan|Nested Loop|Result/, p)
        }
        // a counted view runs position_place's statements (nested, logged after the view's own)
        const counted = await viewed(first)
        assert.strictEqual(counted.position, 1)
        assert.isTrue(counted.plans.some((p) => /Query Text:[\s\S]*select count\(\*\)::int from \(select 1 from/.test(p)),
          counted.plans.join("\n"))
      }
    } finally {
      await Effect.runPromise(Scope.close(scope, Exit.void))
      await explained.destroy()
    }
  }, 60_000)

  // on postgres()'s pool (Prepared.install) the view is a named statement, parsed once per connection
  it("is one named prepared statement with Prepared.install, answering as without it", async () => {
    const views = async (install: boolean, ids: ReadonlyArray<string>) => {
      const pool = new pg.Pool({ connectionString: url!, max: 1 })
      if (install) pool.on("connect", Prepared.install)
      const one = new Kysely<unknown>({ dialect: new PostgresDialect({ pool }) })
      const scope = Effect.runSync(Scope.make())
      try {
        const store = await Effect.runPromise(Scope.provide(KyselyStore.make({ db: one, schema }), scope))
        const seen: Array<unknown> = []
        for (let round = 0; round < 3; round++) {
          for (const id of ids) {
            const v = await Effect.runPromise(store.view(id))
            seen.push([v.id, v.status, v.queuePosition, v.queuePositionCapped, v.steps])
          }
        }
        const missing = await Effect.runPromiseExit(store.view(JobId.make()))
        assert.isTrue(Exit.isFailure(missing))
        const prepared = await sql<{ statement: string }>`select statement from pg_prepared_statements`.execute(one)
        return { seen, prepared: prepared.rows.map((r) => r.statement) }
      } finally {
        await Effect.runPromise(Scope.close(scope, Exit.void))
        await one.destroy()
      }
    }
    const s = `"${schema}"`
    const ids = (await sql.raw<{ id: string }>(`
      (select id from ${s}.jobs where queue = 'q' and status = 'pending' order by priority desc, run_at, id limit 3)
      union all (select id from ${s}.jobs where queue = 'q' and status = 'pending' order by run_at desc limit 1)
      union all (select id from ${s}.jobs where status = 'processing' limit 1)`).execute(db)).rows.map((r) => r.id)
    const plain = await views(false, ids)
    const named = await views(true, ids)
    assert.deepStrictEqual(named.seen, plain.seen)
    assert.deepStrictEqual(plain.prepared, [])
    assert.strictEqual(named.prepared.length, 1, named.prepared.join("\n"))
    assert.isTrue(named.prepared[0]!.startsWith(Prepared.marker) && named.prepared[0]!.includes("job_steps_of"))
  }, 60_000)
})
