/**
 * The triggers a claim and a completion no longer pay for (issue 13, item 3):
 *
 * - migration 0031: `claim()` takes one number of `claimable_left` per job it
 *   claims (the queue position's departures, migration 0010) and the row
 *   trigger leaves claimed rows out, so each claimed job is counted exactly
 *   once (not zero times, not twice), and every other way out of the
 *   claimable set is still counted by the trigger;
 * - migration 0032: `jobs_notify_watched` runs only while the watch horizon
 *   is ahead of now, and the horizon is never behind a registered watch's
 *   expiry, whatever order registrations come in; since 0034 it runs too
 *   when the horizon reads as NULL (no value yet, or no privilege on it);
 * - the claim's transaction commits without waiting for a WAL flush (and
 *   only it: the next transaction is as configured), and a claim across two
 *   queues takes one number per job it claimed. A claim lost that way does
 *   not reissue its token: claimToken.test.ts (migration 0033).
 */
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { Effect, Exit, Scope } from "effect"
import { JobId } from "@jobtrack/core"
import type { JobStoreShape, NewJob } from "@jobtrack/core"
import { KyselyStore, migrate } from "@jobtrack/adapter-kysely"
import { Kysely, PostgresDialect, sql } from "kysely"
import pg from "pg"
import { databaseUrl, randomSchema } from "./databases.js"

const url = databaseUrl()

describe.skipIf(!url)("hot path triggers on PostgreSQL (migrations 0031, 0032, 0034)", { tags: ["postgres"] }, () => {
  let db: Kysely<unknown>
  const schema = randomSchema("jt_hpt")
  const scope = Effect.runSync(Scope.make())
  let store: JobStoreShape
  const run = <A, E>(e: Effect.Effect<A, E>) => Effect.runPromise(e)
  beforeAll(async () => {
    db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url!, max: 4 }) }) })
    await migrate(db, { schema })
    store = await Effect.runPromise(Scope.provide(KyselyStore.make({ db, schema }), scope))
  })
  afterAll(async () => {
    await Effect.runPromise(Scope.close(scope, Exit.void))
    await sql.raw(`drop schema if exists "${schema}" cascade`).execute(db)
    await db.destroy()
  })

  const job = (i: number, queue = "q"): NewJob => ({
    id: JobId.make(), type: "t", queue, payload: { i }, maxAttempts: 1, priority: 0,
    runAt: new Date(Date.now() - 1000), owner: null, key: null, groupKey: null, groupLimit: null
  })
  const departures = async () =>
    Number((await sql.raw<{ n: string }>(`select pg_sequence_last_value('"${schema}".claimable_left')::text as n`)
      .execute(db)).rows[0]!.n ?? 0)

  it("a claim counts each claimed job once; a cancel of a pending job is still counted by the trigger", async () => {
    const jobs = Array.from({ length: 5 }, (_, i) => job(i))
    await run(store.enqueueMany(jobs))
    const before = await departures()
    const claimed = await run(store.claim({ queues: ["q"], types: ["t"], workerId: "w", leaseMs: 30_000, limit: 3 }))
    assert.strictEqual(claimed.length, 3)
    assert.strictEqual(await departures() - before, 3)
    // the claimed records carry what the claim wrote, as the row holds it
    const held = await run(store.get(claimed[0]!.id))
    assert.deepStrictEqual(
      { ...claimed[0]!, payload: null },
      { ...held!, payload: null },
      "a claimed record differs from the stored row"
    )
    assert.strictEqual(claimed[0]!.status, "processing")
    assert.strictEqual(claimed[0]!.lockedBy, "w")
    // a completion is no departure
    await run(store.completeMany(claimed.map((j) => ({ lease: { id: j.id, token: j.token }, result: null }))))
    assert.strictEqual(await departures() - before, 3)
    const left = jobs.find((j) => !claimed.some((c) => c.id === j.id))!
    await run(store.cancel(left.id))
    assert.strictEqual(await departures() - before, 4)
  })

  const horizon = async () =>
    Number((await sql.raw<{ n: string }>(`select pg_sequence_last_value('"${schema}".watch_horizon')::text as n`)
      .execute(db)).rows[0]!.n)
  // the trigger's WHEN condition (migration 0034: an unreadable horizon counts as ahead)
  const watchedRuns = async () =>
    (await sql.raw<{ on: boolean }>(
      `select coalesce(pg_sequence_last_value('"${schema}".watch_horizon'), 9223372036854775807)
        > floor(extract(epoch from now()) * 1000) as on`
    ).execute(db)).rows[0]!.on

  it("the watched-jobs trigger is gated by a horizon no registered watch outlasts", async () => {
    assert.isFalse(await watchedRuns(), "with no watch the trigger would run")
    const id = JobId.make()
    const watch = (watcher: string, seconds: number) =>
      sql.raw(`insert into "${schema}".watches (job_id, watcher, expires_at)
        values ('${id}', '${watcher}', now() + interval '${seconds} seconds')
        on conflict (job_id, watcher) do update set expires_at = excluded.expires_at`).execute(db)
    const expiry = async (watcher: string) =>
      Number((await sql.raw<{ ms: string }>(`select ceil(extract(epoch from expires_at) * 1000)::text as ms
        from "${schema}".watches where watcher = '${watcher}'`).execute(db)).rows[0]!.ms)
    await watch("a", 60)
    assert.isTrue(await watchedRuns())
    assert.strictEqual(await horizon(), await expiry("a"))
    // an earlier expiry registered later does not lower it; a renewal raises it
    await watch("b", 5)
    assert.strictEqual(await horizon(), await expiry("a"))
    await watch("b", 120)
    assert.strictEqual(await horizon(), await expiry("b"))
  })

  it("a watched job's update is announced when the horizon reads as NULL (migration 0034)", async () => {
    const watched = job(9, "watched")
    await run(store.enqueueMany([watched]))
    const id = watched.id
    await sql.raw(`insert into "${schema}".watches (job_id, watcher, expires_at)
      values ('${id}', 'w0034', now() + interval '60 seconds')`).execute(db)
    // no value: pg_sequence_last_value gives NULL (as for a role without privileges on newer versions)
    await sql.raw(`alter sequence "${schema}".watch_horizon restart`).execute(db)
    assert.isNull((await sql.raw<{ n: string | null }>(
      `select pg_sequence_last_value('"${schema}".watch_horizon')::text as n`
    ).execute(db)).rows[0]!.n)
    const client = new pg.Client({ connectionString: url! })
    await client.connect()
    try {
      const heard = new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("no announcement within 20 s")), 20_000)
        client.on("notification", (n) => {
          if (n.payload?.includes(id)) {
            clearTimeout(timer)
            resolve(n.payload)
          }
        })
      })
      await client.query(`listen "jobtrack:${schema}"`)
      await sql.raw(`update "${schema}".jobs set progress = 42 where id = '${id}'`).execute(db)
      const payload = JSON.parse(await heard)
      assert.strictEqual(payload.k, "progress")
    } finally {
      await client.end()
    }
  })

  it("a claim turns synchronous_commit off for its own transaction only, and counts across queues", async () => {
    await run(store.enqueueMany([job(1, "q1"), job(2, "q1"), job(3, "q2"), job(4, "q2"), job(5, "q2")]))
    const before = await departures()
    const settings = await db.transaction().execute(async (tx) => {
      await sql`set local synchronous_commit = on`.execute(tx)
      const outside = (await sql<{ s: string }>`select current_setting('synchronous_commit') as s`.execute(tx)).rows[0]!.s
      const claimed = (await sql<{ id: string }>`select id from ${sql.id(schema, "claim")}(
        array['q1', 'q2']::text[], array['t']::text[], 'w', 4, 30000, now())`.execute(tx)).rows
      const inside = (await sql<{ s: string }>`select current_setting('synchronous_commit') as s`.execute(tx)).rows[0]!.s
      return { outside, inside, claimed: claimed.length }
    })
    assert.deepStrictEqual(settings, { outside: "on", inside: "off", claimed: 4 })
    assert.strictEqual(await departures() - before, 4)
    // the next transaction of any connection: as configured, not as the claim set it
    const after = await db.connection().execute((c) =>
      sql<{ now: string; reset: string }>`select current_setting('synchronous_commit') as now,
        (select reset_val from pg_settings where name = 'synchronous_commit') as reset`.execute(c))
    assert.strictEqual(after.rows[0]!.now, after.rows[0]!.reset)
  })
})
