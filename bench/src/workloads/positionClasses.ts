/**
 * A pending job's view by class of place, against a get (issue 13, item 2):
 * the per-class figures of docs/benchmarks.md, "Queue position (session 6)"
 * and "(session 7)", as a workload. jobtrack only.
 *
 * A store on `postgres()` with a pool of one connection; `BENCH_POSITION_DEPTH`
 * pending jobs (default 10,000, loaded as `queuePosition.ts` loads them) and
 * 100 completed ones, vacuumed (`BENCH_POSITION_VACUUM=0`: analyzed only);
 * `BENCH_POSITION_LATER` (default 0) claimable jobs of priority 1 due
 * tomorrow as well (half pending, half retrying: scheduled jobs, retries
 * waiting out a backoff), ahead in the index but not in the queue.
 * `BENCH_POSITION_LIMITED=1`: every tenth pending job is of a limited group
 * with no room (limit 1, one of its jobs processing), so the views at places
 * 501 and 901 count through the group-aware path (`position_count`, 0040's
 * `position_count2`) and say 451 and 811 (the group's jobs ahead do not
 * start first); the jobs due tomorrow are then every fifth of that group too.
 * Calls run in blocks of `BENCH_CLASS_BLOCK` (50) calls of one class, the
 * classes alternating block by block, `BENCH_CLASS_ROUNDS` (80) blocks each:
 * the store's get of the job at place 901, and the view (`tracker.get`) of the
 * jobs at places 1, 501 and 901, of one behind the boundary (place 5,001, or
 * the last when fewer), and of a completed job. Each view's place is checked
 * once; `BENCH_POSITION_DEPTH` below 901 is refused (there is no place 901).
 * After the calls, the jobs ahead of the one behind the boundary are deleted
 * unseen (the trigger counting departures off): its view must still say "more
 * than 1,000", else it was counted, not proved by the boundary, and the run
 * fails (a depth of 1,001 or less has no boundary to be behind). Prints per class the wall p50 / p99 (µs) and the Node process's plus
 * the backend's CPU per call, and the backend's alone (µs; the backend's from
 * `/proc/<pid>/schedstat`),
 * and each view's p50 over the get's.
 *
 *   DATABASE_URL=postgres://… node src/workloads/positionClasses.ts     (from bench/)
 */
import fs from "node:fs"
import { Effect, Exit, Scope } from "effect"
import { JobStore, Tracker } from "@jobtrack/core"
import { postgres } from "@jobtrack/adapter-kysely"
import pg from "pg"

const url = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test"
const schema = "bench_position_classes"
const depth = Number(process.env.BENCH_POSITION_DEPTH ?? 10_000)
const BLOCK = Number(process.env.BENCH_CLASS_BLOCK ?? 50)
const ROUNDS = Number(process.env.BENCH_CLASS_ROUNDS ?? 80)
const vacuum = process.env.BENCH_POSITION_VACUUM !== "0"
const later = Number(process.env.BENCH_POSITION_LATER ?? 0)
const limited = process.env.BENCH_POSITION_LIMITED === "1"
if (!Number.isInteger(depth) || depth < 901) {
  throw new Error(`BENCH_POSITION_DEPTH=${process.env.BENCH_POSITION_DEPTH}: at least 901 pending jobs are needed (the views of places 1, 501 and 901)`)
}

const admin = new pg.Pool({ connectionString: url, max: 1 })
await admin.query(`drop schema if exists ${schema} cascade`)
const scope = Effect.runSync(Scope.make())
try {
  const store = await Effect.runPromise(Scope.provide(postgres({ connectionString: url, schema, max: 1 }), scope))
  const tracker = await Effect.runPromise(Tracker.make({ definitions: [] }).pipe(Effect.provideService(JobStore, store)))
  await admin.query(`
    insert into ${schema}.jobs (id, type, queue, payload, status, max_attempts, run_at, created_at, updated_at,
      group_key, group_limit)
    select gen_random_uuid(), 'noop', 'default', jsonb_build_object('i', g), 'pending', 1,
      now() - interval '1 hour' + g * interval '1 millisecond', now(), now(),
      case when $2 and g % 10 = 0 then 'full' end, case when $2 and g % 10 = 0 then 1 end
    from generate_series(1, $1::int) g`, [depth, limited])
  // the limited group's one place taken (a job processing under a lease)
  if (limited) {
    await admin.query(`
      insert into ${schema}.jobs (id, type, queue, payload, status, max_attempts, attempts, run_at, created_at,
        started_at, updated_at, locked_until, group_key, group_limit)
      values (gen_random_uuid(), 'noop', 'default', '{}', 'processing', 1, 1, now() - interval '2 hours', now(), now(), now(),
        now() + interval '1 day', 'full', 1)`)
  }
  await admin.query(`
    insert into ${schema}.jobs (id, type, queue, payload, status, max_attempts, attempts, run_at, created_at,
      started_at, completed_at, updated_at, result)
    select gen_random_uuid(), 'noop', 'default', jsonb_build_object('i', g), 'completed', 1, 1,
      now() - interval '2 hours', now() - interval '2 hours', now() - interval '2 hours', now() - interval '2 hours',
      now() - interval '2 hours', 'null'::jsonb
    from generate_series(1, 100) g`)
  await admin.query(`
    insert into ${schema}.jobs (id, type, queue, payload, status, max_attempts, priority, run_at, created_at, updated_at,
      group_key, group_limit)
    select gen_random_uuid(), 'noop', 'default', jsonb_build_object('i', g), case when g % 2 = 0 then 'pending' else 'retrying' end,
      1, 1, now() + interval '1 day' + g * interval '1 millisecond', now(), now(),
      case when $2 and g % 5 = 0 then 'full' end, case when $2 and g % 5 = 0 then 1 end
    from generate_series(1, $1::int) g`, [later, limited])
  await admin.query(vacuum ? `vacuum analyze ${schema}.jobs` : `analyze ${schema}.jobs`)
  const behindPlace = Math.min(5001, depth)
  const at = async (place: number) =>
    (await admin.query<{ id: string }>(`
      select id from (select id, row_number() over (order by priority desc, run_at, id) as place
        from ${schema}.jobs where status = 'pending' and run_at <= now()) o where place = $1`, [place])).rows[0]!.id
  const completed = (await admin.query<{ id: string }>(`select id from ${schema}.jobs where status = 'completed' limit 1`))
    .rows[0]!.id
  const ids = { 1: await at(1), 501: await at(501), 901: await at(901), behind: await at(behindPlace) }
  const view = (id: string) => Effect.runPromise(tracker.get(id))
  const get = (id: string) => Effect.runPromise(store.get(id))
  // the backend of the store's one connection: the one whose last statement was a get
  await get(ids[901])
  const backend = (await admin.query<{ pid: number }>(`
    select pid from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()
      and query like '%from "${schema}"."jobs"%' order by state_change desc limit 1`)).rows[0]?.pid
  const backendCpu = () =>
    backend === undefined ? 0 : Number(fs.readFileSync(`/proc/${backend}/schedstat`, "utf8").split(" ")[0]) / 1000
  const nodeCpu = () => {
    const u = process.cpuUsage()
    return u.user + u.system
  }
  const classes: Array<{ name: string; call: () => Promise<unknown>; wall: Array<number>; cpu: Array<number>; db: Array<number> }> = [
    { name: "get (place 901)", call: () => get(ids[901]), wall: [], cpu: [], db: [] },
    { name: `view, behind the boundary (${behindPlace.toLocaleString("en")})`, call: () => view(ids.behind), wall: [], cpu: [], db: [] },
    { name: "completed job's view", call: () => view(completed), wall: [], cpu: [], db: [] },
    { name: "view, place 1", call: () => view(ids[1]), wall: [], cpu: [], db: [] },
    { name: "view, place 501", call: () => view(ids[501]), wall: [], cpu: [], db: [] },
    { name: "view, place 901", call: () => view(ids[901]), wall: [], cpu: [], db: [] }
  ]
  // the places, once (and a boundary read, as a process that viewed the queue's tail has)
  for (const [place, id] of [[1, ids[1]], [501, ids[501]], [901, ids[901]]] as const) {
    const v = await view(id)
    // with the limited group: its jobs ahead (every tenth) do not start first
    const want = limited ? place - Math.floor((place - 1) / 10) : place
    if (v.queuePosition !== want) throw new Error(`place ${place} viewed as ${v.queuePosition}, not ${want}`)
  }
  for (let i = 0; i < 3; i++) await view(ids.behind)
  for (const c of classes) for (let i = 0; i < 20; i++) await c.call()
  for (let round = 0; round < ROUNDS; round++) {
    for (const c of classes) {
      const db0 = backendCpu()
      const cpu0 = nodeCpu() + db0
      for (let i = 0; i < BLOCK; i++) {
        const t0 = performance.now()
        await c.call()
        c.wall.push((performance.now() - t0) * 1000)
      }
      const db1 = backendCpu()
      c.cpu.push((nodeCpu() + db1 - cpu0) / BLOCK)
      c.db.push((db1 - db0) / BLOCK)
    }
  }
  // the view behind the boundary was the boundary's: with every job ahead of it gone unseen (no departure
  // counted), a counted view would say place 1; the boundary still says "more than 1,000"
  await admin.query(`alter table ${schema}.jobs disable trigger jobs_claimable_deleted`)
  await admin.query(`
    delete from ${schema}.jobs o using ${schema}.jobs b where b.id = $1 and o.status = 'pending'
      and (-o.priority, o.run_at, o.id) < (-b.priority, b.run_at, b.id)`, [ids.behind])
  await admin.query(`alter table ${schema}.jobs enable trigger jobs_claimable_deleted`)
  const proved = await view(ids.behind)
  if (!proved.queuePositionCapped) {
    throw new Error(`the view at place ${behindPlace} was counted, not proved by the boundary (place ${proved.queuePosition} ` +
      `once the jobs ahead were gone): its class measured a count`)
  }
  const pct = (xs: Array<number>, p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]!
  const getP50 = pct(classes[0]!.wall, 0.5)
  console.log(`${depth.toLocaleString("en")} pending${limited ? " (every tenth of a limited group with no room)" : ""}${later > 0 ? ` and ${later.toLocaleString("en")} of a higher priority due tomorrow` : ""}, ${vacuum ? "vacuumed" : "analyzed only"}, blocks of ${BLOCK}, ${ROUNDS} each` +
    `${backend === undefined ? " (backend CPU not found)" : ""}; load ${fs.readFileSync("/proc/loadavg", "utf8").trim()}`)
  for (const c of classes) {
    console.log(`  ${c.name.padEnd(38)} p50 ${pct(c.wall, 0.5).toFixed(0).padStart(5)} p99 ${pct(c.wall, 0.99).toFixed(0).padStart(6)} µs` +
      `  cpu ${pct(c.cpu, 0.5).toFixed(0).padStart(4)} (backend ${pct(c.db, 0.5).toFixed(0).padStart(3)}) µs  p50/get ${(pct(c.wall, 0.5) / getP50).toFixed(2)}×`)
  }
} finally {
  await Effect.runPromise(Scope.close(scope, Exit.void))
  await admin.query(`drop schema if exists ${schema} cascade`)
  await admin.end()
}
