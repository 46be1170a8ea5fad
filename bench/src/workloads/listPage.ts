/**
 * What one list page costs the process that reads it: `store.list({ limit:
 * 500 })` and `store.adminList(…, limit 500)` over 500 completed jobs with
 * 1 MiB results (and 1 KiB payloads), on two builds of the Kysely store in
 * the same run, taking turns: this checkout and the one at LIST_BASE (a
 * built clone of another commit, e.g. the commit before list pages became
 * summaries). Both read the same table in one schema (their migrations
 * must match). Per build and read: the median time of LIST_ROUNDS reads,
 * the bytes the connection received per read (the socket's `bytesRead`, a
 * pool of one connection) and the size of the page's items as JSON.
 *
 *   DATABASE_URL=postgres://… LIST_BASE=/work/other-clone node bench/src/workloads/listPage.ts
 *   LIST_ROUNDS=5 LIST_JOBS=500 LIST_RESULT_BYTES=1048576
 */
import { fileURLToPath } from "node:url"

const url = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test"
const ROUNDS = Number(process.env.LIST_ROUNDS ?? 5)
const JOBS = Number(process.env.LIST_JOBS ?? 500)
const RESULT_BYTES = Number(process.env.LIST_RESULT_BYTES ?? 1_048_576)
const here = fileURLToPath(new URL("../../..", import.meta.url)).replace(/\/$/, "")
const base = process.env.LIST_BASE

/** Two builds loaded by path, each with its own effect: typed loosely. */
interface Build {
  readonly name: string
  readonly list: () => Promise<any>
  readonly adminList: () => Promise<any>
  readonly bytesRead: () => Promise<number>
  readonly close: () => Promise<void>
  readonly raw: any
  readonly core: any
}

const schema = `jt_list_${Math.random().toString(36).slice(2, 8)}`

const load = async (name: string, root: string): Promise<Build> => {
  const nm = `${root}/packages/adapter-kysely/node_modules`
  const [ak, core, E, K, pgm] = await Promise.all([
    import(`${root}/packages/adapter-kysely/dist/index.js`),
    import(`${root}/packages/core/dist/index.js`),
    import(`${nm}/effect/dist/index.js`),
    import(`${nm}/kysely/dist/index.js`),
    import(`${nm}/pg/lib/index.js`)
  ])
  const pool = new pgm.default.Pool({ connectionString: url, max: 1 })
  const db = new K.Kysely({ dialect: new K.PostgresDialect({ pool }) })
  if (name === "this") await ak.migrate(db, { schema })
  const scope = await E.Effect.runPromise(E.Scope.make())
  const store = await E.Effect.runPromise(E.Scope.provide(ak.KyselyStore.make({ db, schema }), scope))
  return {
    name,
    raw: store,
    core: { ...core, E },
    list: () => E.Effect.runPromise(store.list({ limit: 500 })),
    adminList: () => E.Effect.runPromise(store.adminList({ filter: {}, sort: "createdAt", order: "desc", limit: 500 })),
    bytesRead: async () => {
      const c = await pool.connect()
      const n = c.connection.stream.bytesRead as number
      c.release()
      return n
    },
    close: async () => {
      await E.Effect.runPromise(E.Scope.close(scope, E.Exit.void))
      await db.destroy()
    }
  }
}

const builds = [await load("this", here)]
if (base !== undefined) builds.push(await load("base", base))
const [first] = builds

// seed: JOBS jobs, then completed with a RESULT_BYTES result each (hex text, which compresses little)
{
  const { JobId } = first!.core
  const jobs = Array.from({ length: JOBS }, () => ({
    id: JobId.make(), type: "t", queue: "default", payload: { note: "p".repeat(1024) }, maxAttempts: 1, priority: 0,
    runAt: new Date(0), owner: "ann", key: null, groupKey: null, groupLimit: null
  }))
  await first!.core.E.Effect.runPromise(first!.raw.enqueueMany(jobs))
  const pgm = await import(`${here}/packages/adapter-kysely/node_modules/pg/lib/index.js`)
  const c = new pgm.default.Client({ connectionString: url })
  await c.connect()
  await c.query(`update "${schema}".jobs set status = 'completed', started_at = now(), completed_at = now(),
    result = to_jsonb((select string_agg(md5(g::text || random()::text), '') from generate_series(1, ${Math.ceil(RESULT_BYTES / 32)}) g))`)
  await c.end()
}

const median = (xs: Array<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const rows: Record<string, { ms: Array<number>; bytes: number; json: number }> = {}
for (let round = 0; round < ROUNDS; round++) {
  const order = round % 2 === 0 ? builds : [...builds].reverse()
  for (const b of order) {
    for (const read of ["list", "adminList"] as const) {
      const before = await b.bytesRead()
      const t0 = performance.now()
      const page = await b[read]()
      const ms = performance.now() - t0
      const bytes = (await b.bytesRead()) - before
      const k = `${b.name} ${read}`
      rows[k] ??= { ms: [], bytes, json: JSON.stringify(page.items).length }
      rows[k].ms.push(ms)
      if (page.items.length !== JOBS) throw new Error(`${k}: ${page.items.length} items`)
    }
  }
}
console.log(`${JOBS} jobs, ${RESULT_BYTES}-byte results, ${ROUNDS} rounds, load ${(await import("node:os")).loadavg().map((x) => x.toFixed(2)).join(" ")}`)
for (const [k, r] of Object.entries(rows)) {
  console.log(`${k.padEnd(16)} median ${median(r.ms).toFixed(1).padStart(8)} ms  received ${r.bytes.toLocaleString("en").padStart(13)} B  items as JSON ${r.json.toLocaleString("en").padStart(13)} B`)
}
for (const b of builds) await b.close()
{
  const pgm = await import(`${here}/packages/adapter-kysely/node_modules/pg/lib/index.js`)
  const c = new pgm.default.Client({ connectionString: url })
  await c.connect()
  await c.query(`drop schema "${schema}" cascade`)
  await c.end()
}
