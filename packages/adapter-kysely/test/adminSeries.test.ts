/**
 * The console's charts on PostgreSQL (migration 0012, store/AdminSeries.ts,
 * store/SeriesSummarizer.ts): a chart read from the jobs alone (a read-only
 * connection cannot write the summary) equals the one read from the summary
 * of finished minutes, per minute, per quarter hour and per queue, also when
 * read again (buckets kept in memory); the summary is written by summary
 * steps in bounded chunks (newest first, one process at a time), never by a
 * chart read nor by the jobs' own writes; a read that meets what the summary
 * does not reach yet answers at once from a bounded read of the newest jobs,
 * with the buckets it could not read whole marked partial; and a read that
 * finds the summary behind starts catching up in the background.
 *
 * Times are explicit: the jobs finish at fixed times before `T`, and the
 * store's clock is a TestClock set to `T` (or later), behind the database's
 * real clock; one case sets it ahead of the database's clock instead.
 */
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { Effect, Exit, Scope } from "effect"
import type { AdminStore, JobStoreShape } from "@jobtrack/core"
import { KyselyStore, migrate } from "@jobtrack/adapter-kysely"
import { TestClock } from "effect/testing"
import { Kysely, PostgresDialect, sql } from "kysely"
import pg from "pg"
import { databaseUrl, randomSchema } from "./databases.js"

const url = databaseUrl()
const minute = 60_000
const day = 86_400_000
/** The tests' "now": a whole hour. */
const T = Date.UTC(2026, 5, 1, 12, 0, 0)

/** Run at the TestClock time `at`. */
const at = <A, E>(time: number, effect: Effect.Effect<A, E>): Promise<A> =>
  Effect.runPromise(
    Effect.gen(function*() {
      yield* TestClock.setTime(time)
      return yield* effect
    }).pipe(Effect.provide(TestClock.layer()))
  )

const finishedIn = (buckets: ReadonlyArray<AdminStore.SeriesBucket>) =>
  buckets.reduce((n, b) => n + b.completed + b.failed + b.cancelled, 0)

describe.skipIf(!url)("console charts from summarized minutes on PostgreSQL", { tags: ["postgres"] }, () => {
  let db: Kysely<unknown>
  let readOnly: Kysely<unknown>
  const schema = randomSchema("jt_series")
  const s = `"${schema}"`
  let scope: Scope.Closeable
  const store = (k: Kysely<unknown>, seriesSummary: KyselyStore.SeriesSummaryOptions): Promise<JobStoreShape> =>
    Effect.runPromise(Scope.provide(KyselyStore.make({ db: k, schema, seriesSummary }), scope))
  const summarized = async () =>
    Number((await sql<{ n: number }>`select count(*)::int as n from ${sql.id(schema, "series_rollup")}`.execute(db)).rows[0]!.n)
  const rolled = async () => {
    const r = await sql<{ lo: Date; hi: Date }>`select lo, hi from ${sql.id(schema, "series_rolled")}`.execute(db)
    return r.rows[0] ? { lo: new Date(r.rows[0].lo).getTime(), hi: new Date(r.rows[0].hi).getTime() } : null
  }
  const reset = () => sql.raw(`truncate ${s}.series_rollup, ${s}.series_rolled`).execute(db)
  /** `n` finished jobs, the i-th finishing `i * every` ms before `end`: 2 queues, 3 types, durations 1 ms to 60 s, waits 0 to 3 s. */
  const insert = (n: number, end: number, every: number) =>
    sql.raw(`
      insert into ${s}.jobs (id, type, queue, payload, status, error_message, max_attempts, attempts, run_at,
        created_at, started_at, completed_at, updated_at)
      select gen_random_uuid(), 'type-' || (i % 3), 'queue-' || (i % 2), '{}',
        case when i % 10 = 0 then 'failed' when i % 17 = 0 then 'cancelled' else 'completed' end,
        case when i % 10 = 0 then 'boom' end, 1, 1, f - d - w, f - d - w, f - d, f, f
      from generate_series(1, ${n}) i,
        lateral (select '${new Date(end).toISOString()}'::timestamptz - (i * ${every}) * interval '1 millisecond' as f,
          ((i * 7919) % 60000) * interval '1 millisecond' as d, ((i * 104729) % 3000) * interval '1 millisecond' as w) x`)
      .execute(db)

  // the charts of the console: the last two hours per minute and per quarter, by queue, by queue and type
  const minutes = { filter: {}, from: new Date(T - 7_200_000), to: new Date(T), bucketMs: minute }
  const quarters = { ...minutes, bucketMs: 900_000 }
  const queue = { ...quarters, filter: { queue: "queue-1" } }
  const type = { ...minutes, filter: { queue: "queue-0", type: "type-2" } }
  const charts = [minutes, quarters, queue, type]

  beforeAll(async () => {
    db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url!, max: 3 }) }) })
    readOnly = new Kysely<unknown>({
      dialect: new PostgresDialect({
        pool: new pg.Pool({ connectionString: url!, max: 2, options: "-c default_transaction_read_only=on" })
      })
    })
    await migrate(db, { schema })
    // 3,000 finished jobs over the two hours before T (one every 2.4 s)
    await insert(3_000, T, 2_400)
    scope = Effect.runSync(Scope.make())
  })
  afterAll(async () => {
    await Effect.runPromise(Scope.close(scope, Exit.void))
    await sql.raw(`drop schema if exists "${schema}" cascade`).execute(db)
    await readOnly.destroy()
    await db.destroy()
  })

  it("the same chart from the jobs (read-only) and from the summary, which summary steps write", async () => {
    await reset()
    const ro = await store(readOnly, { directJobs: 100_000, background: false })
    const rw = await store(db, { background: false })
    const fromJobs = []
    for (const r of charts) fromJobs.push(await at(T + minute, ro.series(r)))
    assert.strictEqual(await summarized(), 0, "a read-only connection wrote the summary")
    assert.isFalse(fromJobs.flat().some((b) => b.partial), "read whole from the jobs")
    // a read writes nothing; summary steps do
    await at(T + minute, rw.series(minutes))
    assert.strictEqual(await summarized(), 0, "a chart read wrote the summary")
    while ((await at(T + minute, rw.summarizeSeries!())).more);
    assert.isAbove(await summarized(), 0)
    const fromSummary = []
    for (const r of charts) fromSummary.push(await at(T + minute, rw.series(r)))
    assert.deepStrictEqual(fromSummary, fromJobs)
    // read again: the buckets read from the summary alone come from memory, the rest is read
    const again = []
    for (const r of charts) again.push(await at(T + minute, rw.series(r)))
    assert.deepStrictEqual(again, fromJobs)
    assert.strictEqual(finishedIn(fromJobs[0]!), 3_000)
    assert.isTrue(fromJobs[1]!.some((b) => b.durationP95Ms !== null && b.durationP95Ms > 50_000))
    // a read-only store reads the summary the primary wrote (as a replica would)
    assert.deepStrictEqual(await at(T + minute, ro.series(quarters)), fromJobs[1])
  })

  it("while the summary is behind, a read answers from the newest jobs, marks the rest partial, and writes nothing", async () => {
    await reset()
    const exact = await store(readOnly, { directJobs: 100_000, background: false })
    const rw = await store(db, { background: false, directJobs: 1_000, chunkJobs: 500 })
    const whole = await at(T + minute, exact.series(minutes))
    const read = await at(T + minute, rw.series(minutes))
    assert.strictEqual(await summarized(), 0)
    const partial = read.flatMap((b, i) => (b.partial ? [i] : []))
    // 1,001 newest jobs read (2.4 s apart: 40 minutes); the buckets before them are partial
    assert.isAbove(partial.length, 70)
    assert.isBelow(partial.length, 90)
    assert.deepStrictEqual(partial, Array.from({ length: partial.length }, (_, i) => i), "the oldest buckets, and only they")
    for (let i = 0; i < read.length; i++) {
      if (read[i]!.partial) assert.isAtMost(read[i]!.completed, whole[i]!.completed)
      else assert.deepStrictEqual(read[i], whole[i])
    }
    assert.isBelow(finishedIn(read), 3_000)
    assert.isAtLeast(finishedIn(read), 1_000)
    // by type: the bound is on the jobs read, whatever the filter, so the same buckets are partial
    const byType = await at(T + minute, rw.series(type))
    assert.deepStrictEqual(byType.flatMap((b, i) => (b.partial ? [i] : [])), partial)
  })

  it("summary steps take bounded chunks, newest first, forward then back to two days, and the charts fill in", async () => {
    await reset()
    const exact = await store(readOnly, { directJobs: 100_000, background: false })
    const rw = await store(db, { background: false, directJobs: 1_000, chunkJobs: 500 })
    // at T + 1 minute, the summary may hold every minute up to T
    const horizon = T
    const steps: Array<AdminStore.SeriesSummaryStep> = []
    const ranges = []
    let partialBefore = Infinity
    do {
      steps.push(await at(T + minute, rw.summarizeSeries!()))
      ranges.push(await rolled())
      // each chunk leaves fewer partial buckets
      const partial = (await at(T + minute, rw.series(minutes))).filter((b) => b.partial).length
      assert.isAtMost(partial, partialBefore)
      partialBefore = partial
    } while (steps[steps.length - 1]!.more)
    // the first step starts at the newest minute and goes back
    assert.strictEqual(ranges[0]!.hi, horizon)
    assert.isAbove(ranges[0]!.lo, horizon - 3_600_000)
    for (let i = 1; i < ranges.length; i++) {
      assert.strictEqual(ranges[i]!.hi, horizon)
      assert.isBelow(ranges[i]!.lo, ranges[i - 1]!.lo)
    }
    assert.strictEqual(ranges[ranges.length - 1]!.lo, horizon - 2 * day)
    // 3,000 jobs in chunks of at most 500
    assert.isAtLeast(steps.length, 6)
    assert.isTrue(steps.every((st) => st.jobs <= 500), JSON.stringify(steps))
    assert.strictEqual(steps.reduce((n, st) => n + st.jobs, 0), 3_000)
    assert.strictEqual(partialBefore, 0)
    for (const r of charts) assert.deepStrictEqual(await at(T + minute, rw.series(r)), await at(T + minute, exact.series(r)))

    // three minutes later, 20 more jobs finished: read whole from the jobs (the newest), then summarized forward
    await insert(20, T + 3 * minute, 1_000)
    const later = { ...minutes, from: new Date(T - 3_600_000), to: new Date(T + 4 * minute) }
    const head = await at(T + 4 * minute, rw.series(later))
    assert.isFalse(head.some((b) => b.partial))
    assert.strictEqual(finishedIn(head.slice(-2, -1)), 20)
    assert.strictEqual(finishedIn(head.slice(-4)), 20)
    const forward = await at(T + 4 * minute, rw.summarizeSeries!())
    assert.deepStrictEqual(forward, { jobs: 20, more: false })
    assert.deepStrictEqual(await rolled(), { lo: T + 3 * minute - 2 * day, hi: T + 3 * minute })
    assert.deepStrictEqual(await at(T + 4 * minute, rw.series(later)), head)
    // caught up: nothing is due
    assert.deepStrictEqual(await at(T + 4 * minute, rw.summarizeSeries!()), { jobs: 0, more: false })
    await sql.raw(`delete from ${s}.jobs where completed_at > '${new Date(T).toISOString()}'`).execute(db)
  })

  it("one process summarizes at a time: a step finding the summary's lock held does nothing", async () => {
    await reset()
    const rw = await store(db, { background: false, chunkJobs: 500 })
    const other = await db.connection().execute(async (conn) => {
      await sql`begin`.execute(conn)
      await sql`select pg_advisory_xact_lock(hashtext('jobtrack.series'), hashtext(${schema}))`.execute(conn)
      const step = await at(T + minute, rw.summarizeSeries!())
      await sql`rollback`.execute(conn)
      return step
    })
    assert.deepStrictEqual(other, { jobs: 0, more: false })
    assert.isNull(await rolled())
    assert.strictEqual((await at(T + minute, rw.summarizeSeries!())).more, true)
  })

  it("two processes stepping at once summarize every job once", async () => {
    await reset()
    const exact = await store(readOnly, { directJobs: 100_000, background: false })
    // two stores on two pools, as two machines: each steps until the summary is whole
    const pools = [0, 1].map(() => new Kysely<unknown>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url!, max: 1 }) }) }))
    try {
      const [a, b] = await Promise.all(pools.map((k) => store(k, { background: false, chunkJobs: 50 })))
      const done = async () => {
        const r = await rolled()
        return r !== null && r.lo === T - 2 * day && r.hi === T
      }
      // back to back, so that the two overlap: one finding the other at it does nothing
      const steps = async (s: JobStoreShape) => {
        let jobs = 0
        for (let i = 0; i < 1_000; i++) {
          const step = await at(T + minute, s.summarizeSeries!())
          jobs += step.jobs
          if (!step.more && (await done())) break
        }
        return jobs
      }
      const [ja, jb] = await Promise.all([steps(a!), steps(b!)])
      assert.isTrue(await done())
      assert.strictEqual(ja + jb, 3_000, `${ja} + ${jb}`)
      for (const r of charts) assert.deepStrictEqual(await at(T + minute, a!.series(r)), await at(T + minute, exact.series(r)))
    } finally {
      for (const k of pools) await k.destroy()
    }
  })

  it("a process clock ahead of the database's does not summarize minutes still in progress by the database's clock", async () => {
    await reset()
    const rw = await store(db, { background: false, chunkJobs: 500 })
    const dbNow = async () =>
      new Date((await sql<{ now: Date }>`select statement_timestamp() as now`.execute(db)).rows[0]!.now).getTime()
    // this process's clock 10 minutes ahead of the database's (the real time; not T)
    const ahead = (await dbNow()) + 10 * minute
    while ((await at(ahead, rw.summarizeSeries!())).more);
    const after = await dbNow()
    const r = await rolled()
    assert.isNotNull(r)
    // at most up to a minute before the database's now, whole minutes (ahead: 9 minutes later)
    assert.isAtMost(r!.hi, Math.floor((after - minute) / minute) * minute)
    assert.isAtLeast(r!.hi, Math.floor((after - minute) / minute) * minute - 2 * minute)
    // a job finishing now by the database's clock is charted (read from the jobs), not lost
    // in a minute marked summarized
    await sql.raw(`
      insert into ${s}.jobs (id, type, queue, payload, status, max_attempts, attempts, run_at, created_at,
        started_at, completed_at, updated_at)
      values (gen_random_uuid(), 'type-0', 'queue-0', '{}', 'completed', 1, 1, now(), now(), now(), now(), now())`)
      .execute(db)
    try {
      await at(ahead, rw.summarizeSeries!())
      const to = Math.ceil(ahead / minute) * minute
      const recent = { filter: {}, from: new Date(to - 30 * minute), to: new Date(to), bucketMs: minute }
      const read = await at(ahead, rw.series(recent))
      assert.strictEqual(finishedIn(read), 1)
      assert.isFalse(read.some((b) => b.partial))
    } finally {
      await sql.raw(`delete from ${s}.jobs where completed_at > '${new Date(T + day).toISOString()}'`).execute(db)
      await reset()
    }
  })

  it("a read that finds the summary behind answers at once and catches up in the background", async () => {
    await reset()
    const exact = await store(readOnly, { directJobs: 100_000, background: false })
    const ro = await store(readOnly, { directJobs: 1_000 })
    const rw = await store(db, { directJobs: 1_000, chunkJobs: 500 })
    // a read-only store cannot summarize (stepped before any read kicks a catch-up in the
    // background, whose step would hold the summary's lock and make this one a no-op); its read
    // answers (partial), and nothing is written
    const refused = await at(T + minute, Effect.flip(ro.summarizeSeries!()))
    assert.strictEqual((refused.cause as { code?: string }).code, "25006")
    assert.isTrue((await at(T + minute, ro.series(minutes))).some((b) => b.partial))
    assert.isNull(await rolled())
    // this read answered before any summary: partial
    assert.isTrue((await at(T + minute, rw.series(minutes))).some((b) => b.partial))
    // bounded wait on the summary itself (two days back from the newest minute), reading the
    // chart as the console does (a read kicks the catch-up again if it was not running)
    const deadline = Date.now() + 30_000
    while ((await rolled())?.lo !== T - 2 * day && Date.now() < deadline) {
      await at(T + minute, rw.series(minutes))
      await new Promise((r) => setTimeout(r, 50))
    }
    assert.deepStrictEqual(await rolled(), { lo: T - 2 * day, hi: T })
    assert.strictEqual(await summarized() > 0, true)
    for (const r of charts) assert.deepStrictEqual(await at(T + minute, rw.series(r)), await at(T + minute, exact.series(r)))
  })
})
