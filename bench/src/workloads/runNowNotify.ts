/**
 * What an operator's bulk runNow costs when its jobs are already due: N
 * pending jobs due now, then `bulkChunk({ action: runNow })` over all of
 * them in chunks of 1,000 (the console's), on two builds of the Kysely store
 * in the same run (this checkout and the built clone at RUNNOW_BASE), each
 * on a schema of its own, taking turns. Per build: the time of the chunks,
 * how many notifications a listener on the schema's channel received, and
 * `applied` / `skipped`.
 *
 *   DATABASE_URL=postgres://… RUNNOW_BASE=/work/other-clone node bench/src/workloads/runNowNotify.ts
 *   RUNNOW_N=20000 RUNNOW_ROUNDS=3
 */
import { fileURLToPath } from "node:url"
import { loadavg } from "node:os"

const url = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test"
const N = Number(process.env.RUNNOW_N ?? 20_000)
const ROUNDS = Number(process.env.RUNNOW_ROUNDS ?? 3)
const here = fileURLToPath(new URL("../../..", import.meta.url)).replace(/\/$/, "")
const base = process.env.RUNNOW_BASE

/** One build's store on a fresh schema, loaded by path with its own effect (typed loosely). */
const load = async (name: string, root: string) => {
  const nm = `${root}/packages/adapter-kysely/node_modules`
  const [ak, core, E, K, pgm] = await Promise.all([
    import(`${root}/packages/adapter-kysely/dist/index.js`),
    import(`${root}/packages/core/dist/index.js`),
    import(`${nm}/effect/dist/index.js`),
    import(`${nm}/kysely/dist/index.js`),
    import(`${nm}/pg/lib/index.js`)
  ])
  const schema = `jt_runnow_${name}_${Math.random().toString(36).slice(2, 8)}`
  const pool = new pgm.default.Pool({ connectionString: url, max: 2 })
  const db = new K.Kysely({ dialect: new K.PostgresDialect({ pool }) })
  await ak.migrate(db, { schema })
  const scope = await E.Effect.runPromise(E.Scope.make())
  const store = await E.Effect.runPromise(E.Scope.provide(ak.KyselyStore.make({ db, schema }), scope))
  const listener = new pgm.default.Client({ connectionString: url })
  await listener.connect()
  let heard = 0
  listener.on("notification", () => void heard++)
  await listener.query(`listen "jobtrack:${schema}"`)
  const run = (e: unknown) => E.Effect.runPromise(e)
  return {
    name,
    round: async () => {
      const jobs = Array.from({ length: N }, () => ({
        id: core.JobId.make(), type: "t", queue: "q", payload: {}, maxAttempts: 1, priority: 0,
        runAt: new Date(Date.now() - 60_000), owner: null, key: null, groupKey: null, groupLimit: null
      }))
      for (let i = 0; i < N; i += 5_000) await run(store.enqueueMany(jobs.slice(i, i + 5_000)))
      // the enqueues' own notifications arrive first: count from a quiet listener
      await new Promise((r) => setTimeout(r, 1_000))
      heard = 0
      let applied = 0
      let skipped = 0
      let after: string | null = null
      const t0 = performance.now()
      do {
        const r: { applied: number; skipped: number; last: string | null } = await run(
          store.bulkChunk({ action: { _tag: "runNow" }, filter: { type: "t" }, after, limit: 1_000 })
        )
        applied += r.applied
        skipped += r.skipped
        after = r.last
      } while (after !== null)
      const ms = performance.now() - t0
      await new Promise((r) => setTimeout(r, 1_000))
      const notified = heard
      await db.executeQuery(K.sql`delete from ${K.sql.table(`${schema}.jobs`)}`.compile(db))
      return { ms, notified, applied, skipped }
    },
    close: async () => {
      await listener.end()
      await E.Effect.runPromise(E.Scope.close(scope, E.Exit.void))
      await K.sql`drop schema ${K.sql.id(schema)} cascade`.execute(db)
      await db.destroy()
    }
  }
}

const builds = [await load("this", here)]
if (base !== undefined) builds.push(await load("base", base))
console.log(`${N} due pending jobs, runNow in chunks of 1,000, ${ROUNDS} rounds, load ${loadavg().map((x) => x.toFixed(2)).join(" ")}`)
for (let round = 0; round < ROUNDS; round++) {
  for (const b of round % 2 === 0 ? builds : [...builds].reverse()) {
    const r = await b.round()
    console.log(`${b.name.padEnd(5)} ${r.ms.toFixed(0).padStart(7)} ms  notifications ${String(r.notified).padStart(7)}  applied ${r.applied}  skipped ${r.skipped}`)
  }
}
for (const b of builds) await b.close()
