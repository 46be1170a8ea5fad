/**
 * The queue position's boundary (store/PositionBoundary.ts, migrations 0010
 * and 0023): a job behind one of its checkpoints is "more than 1,000" without
 * a walk, until more jobs left than that checkpoint allows; leaving by claim,
 * cancel, delete or TRUNCATE is counted, rows an open transaction wrote are
 * not counted by the walk that reads it (PostgreSQL), and another session's
 * long transaction does not keep it from being read.
 */
import { Effect, Exit, Scope } from "effect"
import type { JobStoreShape, NewJob } from "@jobtrack/core"
import { JobId, QueuePosition } from "@jobtrack/core"
import { KyselyStore, migrate } from "@jobtrack/adapter-kysely"
import { sql } from "kysely"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { databaseUrl, pgliteDatabase, postgresDatabase, randomSchema } from "./databases.js"
import type { TestDatabase } from "./databases.js"

const url = databaseUrl()
const cap = QueuePosition.cap

const newJob = (i: number): NewJob => ({
  id: JobId.make(),
  type: "test",
  queue: "default",
  payload: { i },
  maxAttempts: 1,
  priority: 0,
  runAt: new Date(i),
  owner: null,
  key: null,
  groupKey: null,
  groupLimit: null
})

const suite = (name: string, open: () => Promise<TestDatabase>, concurrent: boolean) =>
  describe(name, () => {
    let database: TestDatabase
    let store: JobStoreShape
    let scope: Scope.Closeable
    const schema = randomSchema("jt_pos")
    const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect)
    const raw = (text: string) => sql.raw(text.replaceAll("$s", `"${schema}"`)).execute(database.db)
    const place = async (job: NewJob) => {
      const p = await run(store.queuePosition(job.id))
      return p === null ? null : p.capped ? `more than ${p.position - 1}` : p.position
    }
    const fill = async (n: number) => {
      await raw(`truncate $s.jobs cascade`)
      const jobs = Array.from({ length: n }, (_, i) => newJob(i))
      await run(store.enqueueMany(jobs))
      return jobs
    }
    const claim = (limit: number) =>
      run(store.claim({ queues: ["default"], types: ["test"], workerId: "w", limit, leaseMs: 60_000 }))

    beforeAll(async () => {
      database = await open()
      await migrate(database.db, { schema })
      scope = Effect.runSync(Scope.make())
      store = await run(Scope.provide(KyselyStore.make({ db: database.db, schema, notifier: database.notifier }), scope))
    }, 120_000) // PGlite runs every migration in this process: over 30 s on a loaded machine (CI at 106b47c)
    afterAll(async () => {
      await run(Scope.close(scope, Exit.void))
      await raw(`drop schema $s cascade`).catch(() => {})
      await database.close()
    })

    it("behind the boundary a job is past the cap without a walk; claims and deletes expire it", async () => {
      const jobs = await fill(2000)
      const last = jobs[1999]!
      // the first view past the cap walks and takes a transaction id, the second reads the boundary
      assert.strictEqual(await place(last), `more than ${cap}`)
      assert.strictEqual(await place(last), `more than ${cap}`)
      // claim order against the boundary: a higher priority goes first, a lower one last
      const urgent = { ...newJob(5000), priority: 5 }
      const low = { ...newJob(0), priority: -1 }
      await run(store.enqueueMany([urgent, low]))
      assert.strictEqual(await place(urgent), 1)
      assert.strictEqual(await place(low), `more than ${cap}`)
      assert.strictEqual(await place(jobs[999]!), `more than ${cap}`) // 1,000 ahead, urgent among them
      assert.strictEqual(await place(jobs[998]!), cap)
      // made to leave unseen (the counting trigger off): a view that still says "more than
      // 1,000" for a job now at place 500 read the boundary, not the queue
      await raw(`alter table $s.jobs disable trigger jobs_claimable_deleted`)
      const gone = jobs.slice(0, 1500).map((j) => `'${j.id}'`).join(",")
      await raw(`delete from $s.jobs where id in (${gone})`)
      assert.strictEqual(await place(last), `more than ${cap}`)
      await raw(`alter table $s.jobs enable trigger jobs_claimable_deleted`)

      // counted: 1,000 claimed from the front of 2,000 is more than the margin
      const again = await fill(2000)
      assert.strictEqual(await place(again[1999]!), `more than ${cap}`)
      assert.strictEqual(await place(again[1999]!), `more than ${cap}`)
      assert.strictEqual((await claim(cap)).length, cap)
      assert.strictEqual(await place(again[1999]!), cap)
      // and deleted pending jobs too
      const more = await fill(2000)
      assert.strictEqual(await place(more[1999]!), `more than ${cap}`)
      assert.strictEqual(await place(more[1999]!), `more than ${cap}`)
      await raw(`delete from $s.jobs where id in (${more.slice(0, 1000).map((j) => `'${j.id}'`).join(",")})`)
      assert.strictEqual(await place(more[1999]!), cap)
      // cancelled ones as well
      const third = await fill(2000)
      assert.strictEqual(await place(third[1999]!), `more than ${cap}`)
      assert.strictEqual(await place(third[1999]!), `more than ${cap}`)
      for (const j of third.slice(0, 20)) await run(store.cancel(j.id))
      await raw(`update $s.jobs set status = 'cancelled' where id in (${third.slice(20, 1000).map((j) => `'${j.id}'`).join(",")})`)
      assert.strictEqual(await place(third[1999]!), cap)
    })

    it("between the cap and the walk's end a job is past the cap by a checkpoint; as jobs leave, the first ones expire", async () => {
      const jobs = await fill(2000)
      assert.strictEqual(await place(jobs[1999]!), `more than ${cap}`) // walks to the cap and reads the boundary
      // 1,000 ahead: behind the first checkpoint (the 1,000th job), shown by removing them unseen
      await raw(`alter table $s.jobs disable trigger jobs_claimable_deleted`)
      await raw(`delete from $s.jobs where id in (${jobs.slice(0, 1000).map((j) => `'${j.id}'`).join(",")})`)
      assert.strictEqual(await place(jobs[1000]!), `more than ${cap}`)
      await raw(`alter table $s.jobs enable trigger jobs_claimable_deleted`)

      const again = await fill(2000)
      assert.strictEqual(await place(again[1999]!), `more than ${cap}`)
      assert.strictEqual(await place(again[1000]!), `more than ${cap}`)
      // 20 leave: the checkpoints up to the 1,019th job expire, the later ones still prove
      assert.strictEqual((await claim(20)).length, 20)
      assert.strictEqual(await place(again[1015]!), 996)
      assert.strictEqual(await place(again[1019]!), cap)
      assert.strictEqual(await place(again[1020]!), `more than ${cap}`)
      assert.strictEqual(await place(again[1500]!), `more than ${cap}`)
      // past the last checkpoint's margin the boundary is gone: every place is counted again
      assert.strictEqual((await claim(490)).length, 490)
      assert.strictEqual(await place(again[1509]!), cap)
      assert.strictEqual(await place(again[1999]!), `more than ${cap}`)
    })

    it("a TRUNCATE expires every boundary", async () => {
      const jobs = await fill(2000)
      assert.strictEqual(await place(jobs[1999]!), `more than ${cap}`)
      assert.strictEqual(await place(jobs[1999]!), `more than ${cap}`)
      const fresh = await fill(10)
      assert.deepStrictEqual(await Promise.all(fresh.map(place)), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    })

    // the count's same-priority range ends at one key (migration 0035): the job's own when it is due,
    // else just after the view's time; a job not yet due has every due job of its priority ahead
    it("a job not yet due is placed after every due job, and due jobs behind it do not count", async () => {
      const jobs = await fill(5)
      const later = (i: number, at: number): NewJob => ({ ...newJob(i), runAt: new Date(Date.now() + at) })
      // due: 5 early ones, then "soon" (1 s ago); not due: "late" (in an hour), "later" (in two)
      const soon = later(5, -1000)
      const late = later(6, 3_600_000)
      const latest = later(7, 7_200_000)
      const urgent = { ...later(8, 3_600_000), priority: 1 }
      await run(store.enqueueMany([latest, late, soon, urgent]))
      assert.deepStrictEqual(await Promise.all([...jobs, soon].map(place)), [1, 2, 3, 4, 5, 6])
      // not due: every due job of its priority is ahead, the later not-due ones are not
      assert.strictEqual(await place(late), 7)
      assert.strictEqual(await place(latest), 7)
      // a higher priority not yet due: no due job of its priority ahead
      assert.strictEqual(await place(urgent), 1)
      await claim(2)
      assert.deepStrictEqual(await Promise.all([soon, late, latest].map(place)), [4, 5, 5])
    })

    // places near 1, 1,000 and 1,001 while claimers take batches of 7 from the front and jobs arrive
    // behind them: every view is exact (its place less a whole number of committed batches, never
    // rising), the cap said only while more than 1,000 are ahead, and once the claims are done each
    // place is exact again
    it("positions near places 1, 1,000 and 1,001 stay exact under concurrent claims", async () => {
      const jobs = await fill(2100)
      const places = [1, 2, 8, 999, 1000, 1001, 1002, 1100, 1300, 1301, 1400]
      const watched = places.map((p) => jobs[p - 1]!)
      const batch = 7
      const total = 301 // 43 batches
      // a boundary read before the claims start (the first view of a job past the cap walks to it)
      assert.strictEqual(await place(jobs[2099]!), `more than ${cap}`)
      // started: batches asked for; done: batches whose claim returned (committed)
      let started = 0
      let done = 0
      const claimer = async () => {
        while (started < total) {
          started += batch
          assert.strictEqual((await claim(batch)).length, batch)
          done += batch
        }
      }
      // each view with the jobs committed as claimed before it began and the most that could be
      const seen: Array<Array<{ shown: number | string | null; least: number; most: number }>> = places.map(() => [])
      let claiming = true
      const viewer = async () => {
        while (claiming) {
          for (const [i, job] of watched.entries()) {
            const least = done
            const shown = await place(job)
            seen[i]!.push({ shown, least, most: started })
          }
        }
      }
      // meanwhile jobs arrive that start after every watched one: due ones at the back of the queue, and
      // ones of a higher priority not due yet (a view counts neither: migration 0035's ranges end at one key)
      let arrived = 0
      const enqueuer = async () => {
        while (claiming) {
          const k = arrived++
          await run(store.enqueueMany([
            { ...newJob(100_000 + k), runAt: new Date(100_000 + k) },
            { ...newJob(200_000 + k), priority: 1, runAt: new Date(Date.now() + 3_600_000) }
          ]))
        }
      }
      await Promise.all([
        viewer(),
        enqueuer(),
        Promise.all([claimer(), claimer(), claimer()]).finally(() => (claiming = false))
      ])
      assert.strictEqual(done, total)
      assert.isAbove(arrived, 0, "jobs arrived while jobs were claimed")
      assert.isTrue(seen.flat().some((v) => v.least > 0 && v.least < total), "views ran while jobs were claimed")
      places.forEach((p, i) => {
        let last = p
        for (const { shown, least, most } of seen[i]!) {
          const what = `place ${p} shown as ${shown} with ${least}-${most} claimed`
          if (shown === null) assert.isAtMost(p, most, what) // claimed itself
          else if (typeof shown === "number") {
            // exact: its place less a whole number of the batches claimed meanwhile
            assert.strictEqual((p - shown) % batch, 0, what)
            // at least the batches committed before the view began — for a place behind every
            // batch that can be claimed (past `total` and the three claimers' batches in flight):
            // nearer the front, a later batch can commit before an earlier one that holds jobs
            // ahead of the place (SKIP LOCKED), so fewer than `least` of those ahead are committed
            assert.isTrue(p - shown >= (p > total + 3 * batch ? least : 0) && p - shown <= most, what)
          } else {
            assert.strictEqual(shown, `more than ${cap}`, what)
            assert.isAbove(p - least, cap, what) // more than 1,000 ahead could still be
          }
          // never back: a place does not rise, nor turn "more than 1,000" again
          const now = shown === null ? 0 : typeof shown === "number" ? shown : cap + 1
          assert.isAtMost(now, last, `place ${p}: ${shown} after ${last}`)
          last = now
        }
      })
      const after = await Promise.all(watched.map(place))
      assert.deepStrictEqual(after, places.map((p) => p - total > cap ? `more than ${cap}` : p - total > 0 ? p - total : null))
    })

    it("job_view_flat, job_view_flat2, job_view_flat3, job_view_flat4 and job_view5 return every column of jobs, then the view's own", async () => {
      const columns = async (query: string) =>
        (await sql.raw<{ name: string; type: string }>(query.replaceAll("$schema", schema)).execute(database.db)).rows
          .map((r) => `${r.name} ${r.type}`)
      const table = await columns(`
        select a.attname as name, format_type(a.atttypid, a.atttypmod) as type from pg_attribute a
        where a.attrelid = '"$schema".jobs'::regclass and a.attnum > 0 and not a.attisdropped order by a.attnum`)
      const view = (name: string) =>
        columns(`
        select a.name, format_type(a.type, null) as type
        from pg_proc p, unnest(p.proargnames, p.proallargtypes, p.proargmodes) with ordinality as a(name, type, mode, n)
        where p.pronamespace = '"$schema"'::regnamespace and p.proname = '${name}' and a.mode = 't'
        order by a.n`)
      // 0041's view returns 0029's columns: a migration that adds a column to jobs adds a new function (the store's
      // statement since 0042 names the table's columns itself)
      assert.deepStrictEqual(await view("job_view5"), await view("job_view_flat"))
      assert.deepStrictEqual(await view("job_view_flat2"), await view("job_view_flat"))
      assert.deepStrictEqual(await view("job_view_flat3"), await view("job_view_flat"))
      assert.deepStrictEqual(await view("job_view_flat4"), await view("job_view_flat"))
      assert.deepStrictEqual(await view("job_view_flat4"), [
        ...table,
        "steps jsonb",
        "departed bigint",
        "behind boolean",
        "walked integer",
        "counted integer"
      ])
    })

    // a disabled sort adds 10^10 to a plan's cost: without jit = off PostgreSQL compiled the
    // group walk on every call (about a second per view); a generic plan without the others
    // chose to sort the whole range ahead
    if (concurrent) it("the view's functions run planned once, in claim order, without JIT", async () => {
      const { rows } = await sql<{ proname: string; proconfig: Array<string> }>`
        select proname, proconfig from pg_proc
        where pronamespace = ${schema}::regnamespace
          and proname in ('view_row', 'position_walk', 'position_count', 'position_count2', 'position_ahead', 'job_view',
            'job_view_flat', 'job_view_flat2', 'job_view_flat3', 'job_view_flat4', 'position_place', 'job_view5',
            'job_steps_of')
          and proconfig is not null
        order by proname`.execute(database.db)
      const settings = ["plan_cache_mode=force_generic_plan", "enable_sort=off", "enable_bitmapscan=off", "jit=off"]
      // job_view (0027) and job_view_flat (0029) set nothing: their statements are probes by primary key,
      // and they count through position_count and position_ahead; job_view_flat2 (0035), job_view_flat3
      // (0038) and job_view_flat4 (0040) count themselves, as 0041's position_place does; 0041's job_view5
      // sets nothing (a SQL function with a SET clause is not inlined); 0042's job_steps_of sets nothing (a SET
      // clause costs each call; its statement is a probe by primary key)
      assert.deepStrictEqual(rows.map((r) => [r.proname, settings.every((x) => r.proconfig.includes(x))]), [
        ["job_view_flat2", true],
        ["job_view_flat3", true],
        ["job_view_flat4", true],
        ["position_ahead", true],
        ["position_count", true],
        ["position_count2", true],
        ["position_place", true],
        ["position_walk", true],
        ["view_row", true]
      ])
    })

    // PGlite runs one transaction at a time: the cases exist only where two can be open
    if (concurrent) it("another session's long transaction does not keep a boundary from being read", async () => {
      const jobs = await fill(2000)
      // an older transaction holding a snapshot (as an hours-long report would)
      const report = await database.db.startTransaction().execute()
      await sql`select count(*) from ${sql.id(schema, "jobs")}`.execute(report)
      try {
        assert.strictEqual(await place(jobs[1999]!), `more than ${cap}`)
        await raw(`alter table $s.jobs disable trigger jobs_claimable_deleted`)
        await raw(`delete from $s.jobs where id in (${jobs.slice(0, 1500).map((j) => `'${j.id}'`).join(",")})`)
        assert.strictEqual(await place(jobs[1999]!), `more than ${cap}`) // read the boundary, not the queue
        await raw(`alter table $s.jobs enable trigger jobs_claimable_deleted`)
      } finally {
        await report.rollback().execute()
      }
    })

    if (concurrent) it("a boundary read while jobs are leaving in an open transaction is not kept", async () => {
      const jobs = await fill(1502)
      const last = jobs[1501]!
      // three jobs leave in a transaction still open while the boundary is read
      const trx = await database.db.startTransaction().execute()
      await sql.raw(`update "${schema}".jobs set status = 'cancelled' where id in (${
        jobs.slice(0, 3).map((j) => `'${j.id}'`).join(",")
      })`).execute(trx)
      // walked (the three still pending to it): the view reads the boundary, which does not
      // count the three rows the open transaction wrote
      assert.strictEqual(await place(last), `more than ${cap}`)
      assert.strictEqual(await place(last), `more than ${cap}`)
      await trx.commit().execute()
      // 1,501 ahead - 3 - 499 = 999: a boundary that counted the three (1,500 counted,
      // margin 500, 499 left since) would still say "more than 1,000"
      assert.strictEqual((await claim(499)).length, 499)
      assert.strictEqual(await place(last), cap)
    })
  })

suite("queue position boundary (PGlite)", pgliteDatabase, false)
describe.skipIf(!url)("on PostgreSQL", { tags: ["postgres"] }, () => {
  suite("queue position boundary (PostgreSQL)", async () => postgresDatabase(url!, 4), true)
})
