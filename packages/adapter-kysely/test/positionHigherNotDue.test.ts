/**
 * A pending job's view near the head of its queue reads one index descent per
 * distinct higher priority, not the jobs of higher priorities that are not due
 * yet (migration 0038): with 60,000 claimable jobs of priorities 1 to 3
 * scheduled for tomorrow, a view of priority 0 at place 1 or 501 reads about
 * as many blocks as without them (0035's `job_view_flat2` read every
 * one of their entries), and a read of the queue's boundary walks its first
 * 1,500 due jobs per priority (store/PositionBoundary.ts; it read every entry
 * not due too). So does a view whose count is group-aware (migration 0040's
 * `position_count2`: 0038 still called 0027's `position_count`, which read
 * them all). Blocks read are the server's count for the indexes
 * of `jobs` (`pg_statio_user_indexes`), flushed by the viewing backend.
 *
 * And a store's view of jobs whose `run_at` is the view's time (a TestClock):
 * due, and placed by `(run_at, id)` among the due ones; a job one millisecond
 * later is not due, so behind every due job of its priority.
 */
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { Effect, Exit, Scope } from "effect"
import { TestClock } from "effect/testing"
import { JobId } from "@jobtrack/core"
import type { JobStoreShape, NewJob } from "@jobtrack/core"
import { KyselyStore, migrate } from "@jobtrack/adapter-kysely"
import { Kysely, PostgresDialect, sql } from "kysely"
import pg from "pg"
import { databaseUrl, pgliteDatabase, postgresDatabase, randomSchema } from "./databases.js"
import type { TestDatabase } from "./databases.js"

const url = databaseUrl()

describe.skipIf(!url)("a view near the head with higher priorities not due yet (PostgreSQL)", { tags: ["postgres"] }, () => {
  let db: Kysely<unknown>
  const schema = randomSchema("jt_vhnd")
  const s = `"${schema}"`
  beforeAll(async () => {
    db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url!, max: 1 }) }) })
    await migrate(db, { schema })
    await sql.raw(`alter table ${s}.jobs set (autovacuum_enabled = false)`).execute(db)
  }, 120_000)
  afterAll(async () => {
    await sql.raw(`drop schema if exists ${s} cascade`).execute(db)
    await db.destroy()
  })

  /** Blocks of `jobs` and its indexes this connection read in `f` (hit or read), as the server counts them. */
  const blocks = async (f: () => Promise<unknown>) => {
    const read = async () => {
      await sql`select pg_stat_force_next_flush()`.execute(db)
      // flushed when the backend is idle after that statement; read in a new transaction
      await sql`select 1`.execute(db)
      const { rows } = await sql.raw<{ n: string }>(`
        select heap_blks_hit + heap_blks_read + coalesce(idx_blks_hit + idx_blks_read, 0) as n from pg_statio_user_tables
        where relid = '${s}.jobs'::regclass`).execute(db)
      return Number(rows[0]!.n)
    }
    const before = await read()
    await f()
    return (await read()) - before
  }

  it("reads one descent per higher priority, not their jobs not due yet", async () => {
    await sql.raw(`
      insert into ${s}.jobs (id, type, queue, payload, status, max_attempts, priority, run_at, created_at, updated_at)
      select gen_random_uuid(), 't', 'q', '{}', 'pending', 1, 0, now() - interval '1 hour' + g * interval '1 ms', now(), now()
      from generate_series(1, 3000) g`).execute(db)
    await sql.raw(`vacuum (analyze) ${s}.jobs`).execute(db)
    const at = async (place: number) =>
      (await sql.raw<{ id: string }>(`
        select id from ${s}.jobs where queue = 'q' order by priority desc, run_at, id offset ${place - 1} limit 1`)
        .execute(db)).rows[0]!.id
    const [first, middle] = [await at(1), await at(501)]
    const view = (fn: string, id: string) => async () =>
      (await sql.raw<{ counted: number }>(`select counted from ${s}.${fn}('${id}', now(), null)`).execute(db)).rows[0]!
        .counted
    const cost = async (fn: string, id: string, place: number) => {
      // planned once per connection: the first calls plan
      for (let i = 0; i < 3; i++) assert.strictEqual(await view(fn, id)(), place - 1)
      return blocks(view(fn, id))
    }
    const alone = [await cost("job_view_flat3", first, 1), await cost("job_view_flat3", middle, 501)]

    // 60,000 claimable jobs of priorities 1 to 3 due tomorrow (scheduled, or retrying after a backoff)
    await sql.raw(`
      insert into ${s}.jobs (id, type, queue, payload, status, max_attempts, priority, run_at, created_at, updated_at)
      select gen_random_uuid(), 't', 'q', '{}', case when g % 2 = 0 then 'pending' else 'retrying' end, 1, 1 + g % 3,
        now() + interval '1 day' + g * interval '1 ms', now(), now()
      from generate_series(1, 60000) g`).execute(db)
    await sql.raw(`vacuum (analyze) ${s}.jobs`).execute(db)
    const busy = [await cost("job_view_flat3", first, 1), await cost("job_view_flat3", middle, 501)]
    // the case is the one 0035 read whole: its higher range read every entry of the 60,000
    const old = await cost("job_view_flat2", first, 1)
    console.log("blocks of a view at places 1 and 501:", { alone, busy, flat2AtPlace1: old })
    assert.isAbove(old, 300, `job_view_flat2 read ${old} blocks`)
    // per higher priority (three), a few descents of jobs_claim and jobs_claim_limited, about 3 blocks
    // each (measured: 28 more); not the 60,000 entries' leaf pages
    for (const [i, n] of busy.entries()) {
      assert.isAtMost(n, alone[i]! + 3 * 12, `a view read ${n} blocks, ${alone[i]} without the jobs not due (${old} before 0038)`)
    }
  }, 120_000)

  it("the group-aware count reads one descent per higher priority, not their jobs not due yet", async () => {
    // queue 'g': 3,000 due jobs of priority 0, every tenth of group 'x' (limit 1, one job processing: no room),
    // so a view's count is group-aware (0040's position_count2; 0038's job_view_flat3 calls 0027's position_count)
    await sql.raw(`
      insert into ${s}.jobs (id, type, queue, payload, status, max_attempts, priority, run_at, created_at, updated_at,
        group_key, group_limit)
      select gen_random_uuid(), 't', 'g', '{}', case when g = 0 then 'processing' else 'pending' end, 1, 0,
        now() - interval '1 hour' + g * interval '1 ms', now(), now(),
        case when g % 10 = 0 then 'x' end, case when g % 10 = 0 then 1 end
      from generate_series(0, 3000) g`).execute(db)
    await sql.raw(`vacuum (analyze) ${s}.jobs`).execute(db)
    const [first, middle] = await Promise.all([10, 501].map(async (place) =>
      (await sql.raw<{ id: string }>(`
        select id from ${s}.jobs where queue = 'g' and status = 'pending' and group_key is null
        order by priority desc, run_at, id offset ${place - 1} limit 1`).execute(db)).rows[0]!.id))
    const view = (fn: string, id: string) => async () =>
      (await sql.raw<{ walked: number; counted: number }>(`
        select walked, counted from ${s}.${fn}('${id}', now(), null)`).execute(db)).rows[0]!
    // the unlimited jobs at places 10 and 501 among them: group x's jobs ahead are walked, not counted
    const want = [{ walked: 10, counted: 9 }, { walked: 555, counted: 500 }]
    const cost = async (fn: string, id: string, i: number) => {
      // planned once per connection: the first calls plan
      for (let k = 0; k < 3; k++) assert.deepStrictEqual(await view(fn, id)(), want[i])
      return blocks(view(fn, id))
    }
    const alone = [await cost("job_view_flat4", first!, 0), await cost("job_view_flat4", middle!, 1)]
    // 60,000 claimable jobs of priorities 1 to 3 due tomorrow, every fifth of group x
    await sql.raw(`
      insert into ${s}.jobs (id, type, queue, payload, status, max_attempts, priority, run_at, created_at, updated_at,
        group_key, group_limit)
      select gen_random_uuid(), 't', 'g', '{}', case when g % 2 = 0 then 'pending' else 'retrying' end, 1, 1 + g % 3,
        now() + interval '1 day' + g * interval '1 ms', now(), now(),
        case when g % 5 = 0 then 'x' end, case when g % 5 = 0 then 1 end
      from generate_series(1, 60000) g`).execute(db)
    await sql.raw(`vacuum (analyze) ${s}.jobs`).execute(db)
    const busy = [await cost("job_view_flat4", first!, 0), await cost("job_view_flat4", middle!, 1)]
    // 0038's view, through 0027's position_count (and 0023's position_walk), read every entry of the 60,000
    const old = [await cost("job_view_flat3", first!, 0), await cost("job_view_flat3", middle!, 1)]
    console.log("blocks of a group-aware view at places 10 and 501:", { alone, busy, flat3: old })
    for (const [i, n] of busy.entries()) {
      assert.isAbove(old[i]!, 300, `job_view_flat3 read ${old[i]} blocks`)
      // per higher priority (three), a few descents of jobs_claim and jobs_claim_limited (the view's walk, then
      // position_count2's), about 3 blocks each (measured: 48 more); not the 60,000 entries' leaf pages
      assert.isAtMost(n, alone[i]! + 3 * 20, `a view read ${n} blocks, ${alone[i]} without the jobs not due (${old[i]} with flat3)`)
    }
  }, 120_000)

  it("a boundary read walks the due jobs per priority, not the jobs of higher priorities not due yet", async () => {
    // 2,000 due jobs of priority 0 behind 60,000 of priorities 1 to 3 due tomorrow (the previous case's)
    await sql.raw(`
      insert into ${s}.jobs (id, type, queue, payload, status, max_attempts, priority, run_at, created_at, updated_at)
      select gen_random_uuid(), 't', 'b', '{}', 'pending', 1, case when g <= 2000 then 0 else 1 + g % 3 end,
        case when g <= 2000 then now() - interval '1 hour' + g * interval '1 ms' else now() + interval '1 day' + g * interval '1 ms' end,
        now(), now()
      from generate_series(1, 62000) g`).execute(db)
    await sql.raw(`vacuum (analyze) ${s}.jobs`).execute(db)
    const last = (await sql.raw<{ id: string }>(`
      select id from ${s}.jobs where queue = 'b' and priority = 0 order by run_at desc limit 1`).execute(db)).rows[0]!.id
    const scope = Effect.runSync(Scope.make())
    try {
      // the store on this one connection: the blocks it reads are this backend's
      const store = await Effect.runPromise(Scope.provide(KyselyStore.make({ db, schema }), scope))
      const view = async () => {
        const v = await Effect.runPromise(store.view(last))
        assert.deepStrictEqual([v.queuePosition, v.queuePositionCapped], [1001, true])
      }
      // the first view counts to the cap and reads the queue's boundary (its walk of 1,500 jobs); the second
      // is behind it
      const first = await blocks(view)
      const second = await blocks(view)
      // measured 237: the walk reads its 1,500 entries twice (counted per priority, then walked) and their
      // rows, the view's count 1,000 entries; before, the walk's plan read the whole table (2,273: a
      // sequential scan, its 122,000 rows here; by jobs_claim it would read the 60,000 entries not due)
      assert.isAtMost(first, 400, `a view and a boundary read read ${first} blocks`)
      assert.isAtMost(second, 10, `a view behind the boundary read ${second} blocks`)
    } finally {
      await Effect.runPromise(Scope.close(scope, Exit.void))
    }
  }, 120_000)
})

const T = Date.UTC(2026, 5, 1, 12, 0, 0)

/** Run at the TestClock time `time`. */
const at = <A, E>(time: number, effect: Effect.Effect<A, E>): Promise<A> =>
  Effect.runPromise(
    Effect.gen(function*() {
      yield* TestClock.setTime(time)
      return yield* effect
    }).pipe(Effect.provide(TestClock.layer()))
  )

const job = (priority: number, runAt: number): NewJob => ({
  id: JobId.make(),
  type: "test",
  queue: "at",
  payload: {},
  maxAttempts: 1,
  priority,
  runAt: new Date(runAt),
  owner: null,
  key: null,
  groupKey: null,
  groupLimit: null
})

const suite = (name: string, open: () => Promise<TestDatabase>) =>
  describe(name, () => {
    let database: TestDatabase
    let store: JobStoreShape
    let scope: Scope.Closeable
    const schema = randomSchema("jt_vat")
    beforeAll(async () => {
      database = await open()
      await migrate(database.db, { schema })
      scope = Effect.runSync(Scope.make())
      store = await Effect.runPromise(
        Scope.provide(KyselyStore.make({ db: database.db, schema, notifier: database.notifier }), scope)
      )
    }, 120_000)
    afterAll(async () => {
      await Effect.runPromise(Scope.close(scope, Exit.void))
      await sql.raw(`drop schema "${schema}" cascade`).execute(database.db).catch(() => {})
      await database.close()
    })

    it("a job whose run_at is the view's time is due", async () => {
      const jobs = {
        higherAtT: job(1, T),
        higherLater: job(1, T + 1),
        before: job(0, T - 1),
        atT: job(0, T),
        atT2: job(0, T),
        later: job(0, T + 1)
      }
      await Effect.runPromise(store.enqueueMany(Object.values(jobs)))
      const place = async (j: NewJob) => (await at(T, store.view(j.id))).queuePosition
      const [a, b] = [jobs.atT, jobs.atT2].sort((x, y) => (x.id < y.id ? -1 : 1))
      assert.deepStrictEqual(
        [
          await place(jobs.higherAtT),
          await place(jobs.higherLater),
          await place(jobs.before),
          await place(a!),
          await place(b!),
          await place(jobs.later)
        ],
        // the due jobs in claim order: higherAtT, before, then the two at T by id; a job not due is
        // behind the due ones of its priority and of the higher ones
        [1, 2, 2, 3, 4, 5]
      )
      // a millisecond later the jobs at T + 1 are due too
      assert.strictEqual((await at(T + 1, store.view(jobs.higherLater.id))).queuePosition, 2)
      assert.strictEqual((await at(T + 1, store.view(jobs.before.id))).queuePosition, 3)
      assert.strictEqual((await at(T + 1, store.view(jobs.later.id))).queuePosition, 6)
    }, 60_000)
  })

suite("a view at its job's run_at (PGlite)", pgliteDatabase)
describe.skipIf(!url)("pg", () => { suite("a view at its job's run_at (PostgreSQL)", async () => postgresDatabase(url!, 2)) })
