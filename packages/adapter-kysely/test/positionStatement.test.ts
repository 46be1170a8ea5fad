/**
 * The store's view statement (migration 0042: one statement on `jobs`, no
 * longer `job_view5`) against a brute-force count, through the store:
 * every pending job of a queue of 2,140 (two priorities, retrying jobs among
 * them, jobs of a higher priority not due yet) has its exact place within the
 * first 1,000 and "more than 1,000" beyond; a view past the cap reads the
 * queue's boundary, and the views behind it are proved, not counted. Then
 * jobs leave by claims (300, then 400 more), so the boundary's checkpoints
 * expire in part, then in whole: every place is exact again, the job now at
 * place 1,000 viewed first, while the process still sends the checkpoints it
 * read before the claims (a proof that ignored the jobs that left would say
 * "more than 1,000" for it). Last, every job ahead of one
 * at place 1,300 is deleted unseen (the departures trigger off): its view
 * still says "more than 1,000", so it was proved by the boundary, not
 * counted. Separately, steps: a job never claimed shows none; a job that was
 * claimed shows its steps whatever its status, also pending again after a
 * manual retry (attempts back to 0, token kept) or a durable sleep.
 * PostgreSQL and PGlite.
 */
import { afterAll, assert, describe, it } from "vitest"
import { Effect, Exit, Scope } from "effect"
import { JobId, QueuePosition } from "@jobtrack/core"
import type { JobStoreShape, NewJob } from "@jobtrack/core"
import { KyselyStore, migrate } from "@jobtrack/adapter-kysely"
import { sql } from "kysely"
import { databaseUrl, pgliteDatabase, postgresDatabase, randomSchema } from "./databases.js"
import type { TestDatabase } from "./databases.js"

const url = databaseUrl()

const suite = (name: string, open: () => Promise<TestDatabase>) =>
  describe(name, () => {
    let database: TestDatabase
    let store: JobStoreShape
    let s: string
    const scope = Effect.runSync(Scope.make())
    const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect)
    afterAll(async () => {
      await Effect.runPromise(Scope.close(scope, Exit.void))
      await database?.close()
    })
    const setup = async () => {
      if (store !== undefined) return
      database = await open()
      const schema = randomSchema("jt_vstmt")
      s = `"${schema}"`
      await migrate(database.db, { schema })
      store = await Effect.runPromise(
        Scope.provide(KyselyStore.make({ db: database.db, schema, notifier: database.notifier }), scope)
      )
    }

    /** Each pending job of queue 'q': its place by brute force (claimable due jobs ahead in claim order, plus one). */
    const places = async () =>
      (await sql.raw<{ id: string; place: number }>(`
        select j.id, 1 + (select count(*) from ${s}.jobs o where o.queue = 'q' and o.status in ('pending', 'retrying')
          and o.run_at <= now() and (o.priority > j.priority
            or (o.priority = j.priority and (o.run_at, o.id) < (j.run_at, j.id))))::int as place
        from ${s}.jobs j where j.queue = 'q' and j.status = 'pending' order by place, j.id`).execute(database.db)).rows

    /** Every pending job's view against its place: exact within the cap, "more than 1,000" beyond. */
    const checkAll = async (what: string) => {
      const want = await places()
      const wrong: Array<string> = []
      // the job at place 1,000 first: after jobs left, the process still sends the checkpoints it read before
      // (it learns of the departures from a view's answer), so this view's proof must check the jobs that left
      const order = [...want.filter((r) => r.place === QueuePosition.cap), ...want.filter((r) => r.place !== QueuePosition.cap)]
      for (const { id, place } of order) {
        const v = await run(store.view(id))
        const expected = place <= QueuePosition.cap ? [place, false] : [QueuePosition.cap + 1, true]
        if (v.queuePosition !== expected[0] || v.queuePositionCapped !== expected[1]) {
          wrong.push(`place ${place}: viewed ${v.queuePosition}${v.queuePositionCapped ? " (capped)" : ""}`)
        }
      }
      assert.deepStrictEqual(wrong.slice(0, 5), [], `${what}: ${wrong.length} of ${want.length} views wrong`)
      return want
    }

    const claim = (limit: number) =>
      run(store.claim({ queues: ["q"], types: ["t"], workerId: "w", limit, leaseMs: 600_000 }))

    it("says each pending job's exact place within the first 1,000, as jobs leave and the boundary expires", async () => {
      await setup()
      // 2,100 due jobs (every third of priority 1, every 40th retrying), 40 of priority 2 due tomorrow
      await sql.raw(`
        insert into ${s}.jobs (id, type, queue, payload, status, max_attempts, priority, run_at, created_at, updated_at)
        select gen_random_uuid(), 't', 'q', '{}', case when g % 40 = 0 then 'retrying' else 'pending' end, 1,
          case when g % 3 = 0 then 1 else 0 end, now() - interval '1 hour' + g * interval '1 ms', now(), now()
        from generate_series(1, 2100) g;
        insert into ${s}.jobs (id, type, queue, payload, status, max_attempts, priority, run_at, created_at, updated_at)
        select gen_random_uuid(), 't', 'q', '{}', 'pending', 1, 2, now() + interval '1 day' + g * interval '1 ms', now(), now()
        from generate_series(1, 40) g;`).execute(database.db)
      await sql.raw(`vacuum analyze ${s}.jobs`).execute(database.db)

      const first = await checkAll("at first")
      assert.isAbove(first.filter((r) => r.place > QueuePosition.cap).length, 500)
      // 300 leave: the checkpoints up to 1,300 counted expire, the later ones still prove
      assert.strictEqual((await claim(300)).length, 300)
      await checkAll("after 300 left")
      // 400 more: every checkpoint of the first boundary expired
      assert.strictEqual((await claim(400)).length, 400)
      const last = await checkAll("after 700 left")
      assert.isAbove(last.filter((r) => r.place > QueuePosition.cap).length, 0)

      // the views past the cap were proved by the boundary (read again since): with every job ahead of the one
      // at place 1,300 gone unseen (no departure counted), a count would say place 1
      const behind = last.find((r) => r.place >= 1300)!
      await sql.raw(`
        alter table ${s}.jobs disable trigger jobs_claimable_deleted;
        delete from ${s}.jobs o using ${s}.jobs b where b.id = '${behind.id}' and o.queue = 'q'
          and o.status in ('pending', 'retrying') and (-o.priority, o.run_at, o.id) < (-b.priority, b.run_at, b.id);
        alter table ${s}.jobs enable trigger jobs_claimable_deleted;`).execute(database.db)
      const proved = await run(store.view(behind.id))
      assert.deepStrictEqual([proved.queuePosition, proved.queuePositionCapped], [QueuePosition.cap + 1, true])
      // and the jobs of other statuses have no place
      const claimed = await claim(1)
      const processing = await run(store.view(claimed[0]!.id))
      assert.deepStrictEqual([processing.status, processing.queuePosition, processing.queuePositionCapped], [
        "processing",
        null,
        false
      ])
    }, 600_000)

    it("shows the steps of a job once claimed, whatever its status, and none for one never claimed", async () => {
      await setup()
      const job = (queue: string): NewJob => ({
        id: JobId.make(), type: "s", queue, payload: {}, maxAttempts: 1, priority: 0, runAt: new Date(0), owner: null,
        key: null, groupKey: null, groupLimit: null
      })
      const claimOne = async (queue: string) => {
        const [claimed] = await run(store.claim({ queues: [queue], types: ["s"], workerId: "w", limit: 1, leaseMs: 600_000 }))
        return claimed!
      }
      const stepsOf = async (id: string) => (await run(store.view(id))).steps?.map((st) => [st.name, st.status])

      const never = (await run(store.enqueue(job("n")))).job
      assert.deepStrictEqual(await stepsOf(never.id), [])

      // retried: failed with its steps, then pending again with attempts 0 (its token kept)
      const retried = (await run(store.enqueue(job("r")))).job
      const r = await claimOne("r")
      await run(store.stepCompleted({ id: r.id, token: r.token }, { name: "one", index: 0 }, { n: 1 }))
      await run(store.stepFailed({ id: r.id, token: r.token }, { name: "two", index: 1 }, "no"))
      await run(store.fail({ id: r.id, token: r.token, message: "no", retryAt: null }))
      assert.deepStrictEqual(await stepsOf(retried.id), [["one", "completed"], ["two", "failed"]])
      const again = await run(store.retry(retried.id))
      assert.deepStrictEqual([again.status, again.attempts], ["pending", 0])
      const view = await run(store.view(retried.id))
      assert.deepStrictEqual(view.steps?.map((st) => [st.name, st.status]), [["one", "completed"], ["two", "failed"]])
      assert.deepStrictEqual([view.queuePosition, view.queuePositionCapped], [1, false])

      // slept: pending again until later, its sleep a completed step
      const slept = (await run(store.enqueue(job("z")))).job
      const z = await claimOne("z")
      await run(store.stepCompleted({ id: z.id, token: z.token }, { name: "a", index: 0 }, null))
      await run(store.sleep({ id: z.id, token: z.token }, { name: "nap", index: 1 }, new Date(Date.now() + 3_600_000)))
      const sleeping = await run(store.view(slept.id))
      assert.strictEqual(sleeping.status, "pending")
      assert.deepStrictEqual(sleeping.steps?.map((st) => [st.name, st.status]), [["a", "completed"], ["nap", "completed"]])
    }, 120_000)
  })

suite("the view's statement (PGlite)", pgliteDatabase)
describe.skipIf(!url)("pg", () => { suite("the view's statement (PostgreSQL)", async () => postgresDatabase(url!, 2)) })
