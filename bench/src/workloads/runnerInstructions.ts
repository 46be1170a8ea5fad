/**
 * The worker's instructions per drained no-op job, counted by valgrind's
 * callgrind: a measure that does not move with the machine's load (CPU
 * milliseconds on 2 cores shared by several sessions swing 1.5×). For
 * comparing builds of the runner (issue 13 item 3).
 *
 * The parent process (not under valgrind) runs a child under
 * `valgrind --tool=callgrind` twice, draining `A` and then `B` jobs, and
 * prints (instructions(B) − instructions(A)) ÷ (B − A): the process start,
 * the module loading, the runner's start and shutdown and most JIT warm-up
 * are in both runs and cancel out. Each child drains its jobs with one
 * runner of concurrency 10 (`prune: false`), as `workerCpu.ts` does; V8 runs
 * with `--single-threaded` (its compilers and GC on the main thread) so a
 * count does not depend on how threads were scheduled.
 *
 * Stores (`RUNNER_INSN_STORE`):
 * - `instant` (default): `instantStore.ts`, which claims synthetic jobs and
 *   accepts completions at once: the runner's own work only. Its claims
 *   answer before any handler runs, so the runner claims about one job per
 *   claim (a claim per freed slot).
 * - `deferred`: the same store answering each claim and each completion
 *   write after a macrotask (`setImmediate`), as a database's reply comes
 *   back: claims of ~10 and completion writes of several jobs, as in a
 *   drain on PostgreSQL, without a driver.
 * - `postgres`: `systems.ts`'s jobtrack store on `DATABASE_URL` (schema
 *   `bench_insn`); the parent enqueues the jobs before each child starts, so
 *   only the drain is counted (the driver, the store and the runner; not the
 *   database's backends). Under valgrind the worker is ~50× slower while the
 *   database is not, so its completion batches are smaller than in a real
 *   drain: compare builds with it, do not read it as a real drain's profile.
 *
 *   node bench/src/workloads/runnerInstructions.ts
 *   RUNNER_INSN_STORE=postgres DATABASE_URL=postgres://postgres@127.0.0.1:5432/jt_x node bench/src/workloads/runnerInstructions.ts
 *   RUNNER_INSN_A=2000 RUNNER_INSN_B=8000 RUNNER_INSN_REPEAT=2 …   (job counts, and pairs of runs)
 *
 * To compare another build, copy this file to that clone's `bench/src/workloads/` and run it there.
 * Prints one JSON line per pair of runs.
 */
import { execFileSync } from "node:child_process"
import { readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { Effect, Exit, Scope } from "effect"
import { JobStore, Runner } from "@jobtrack/core"
import type { JobStoreShape } from "@jobtrack/core"

const STORE = process.env.RUNNER_INSN_STORE ?? "instant"
const A = Number(process.env.RUNNER_INSN_A ?? 2_000)
const B = Number(process.env.RUNNER_INSN_B ?? 8_000)
const REPEAT = Number(process.env.RUNNER_INSN_REPEAT ?? 1)
const url = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test"
const schema = "bench_insn"
const CHILD_N = process.env.RUNNER_INSN_CHILD_N

/** The deferred store's calls: claims and completion writes, and the jobs in them. */
const calls = { claims: 0, claimed: 0, writes: 0, completed: 0 }

/** `store` with each claim and completion write answered after a macrotask (a database's reply). */
const deferred = (store: JobStoreShape): JobStoreShape => {
  const later = <A, E>(effect: Effect.Effect<A, E>) =>
    Effect.andThen(Effect.callback<void>((resume) => void setImmediate(() => resume(Effect.void))), effect)
  return {
    ...store,
    claim: (options) => later(Effect.map(store.claim(options), (jobs) => {
      calls.claims++
      calls.claimed += jobs.length
      return jobs
    })),
    completeMany: (items) => later(Effect.map(store.completeMany(items), (done) => {
      calls.writes++
      calls.completed += items.length
      return done
    }))
  }
}

/** In the child: drain `n` jobs from the instant store (deferred or not) with one runner. */
const drainInstant = async (n: number) => {
  const InstantStore = await import("./instantStore.ts")
  const { noop, round, store: instant } = await InstantStore.make(n)
  const store = STORE === "deferred" ? deferred(instant) : instant
  const all = round()
  const scope = Effect.runSync(Scope.make())
  await Effect.runPromise(Scope.provide(
    Runner.make({ definitions: [noop], concurrency: 10, prune: false }).pipe(Effect.provideService(JobStore, store)),
    scope
  ))
  await all
  await Effect.runPromise(Scope.close(scope, Exit.void))
}

/** In the child: drain the `n` jobs the parent enqueued on PostgreSQL. */
const drainPostgres = async (n: number) => {
  const { jobtrack } = await import("../systems.ts")
  const s = await jobtrack(url, schema, { attach: true })
  let seen = 0
  let done: () => void = () => {}
  const all = new Promise<void>((r) => (done = r))
  await s.startWorkers(10, () => {
    if (++seen === n) done()
  })
  await all
  await s.stopWorkers()
  await s.close()
}

/** In the parent: a fresh schema with `n` pending no-op jobs. */
const enqueue = async (n: number) => {
  const { jobtrack } = await import("../systems.ts")
  const s = await jobtrack(url, schema)
  for (let i = 0; i < n; i += 1000) await s.enqueueBatch(i, Math.min(1000, n - i))
  await s.close()
}

/** In the parent: the instructions of one child draining `n` jobs. */
const count = async (n: number): Promise<number> => {
  if (STORE === "postgres") await enqueue(n)
  const out = join(tmpdir(), `runner-insn-${process.pid}-${n}.out`)
  execFileSync("valgrind", [
    "--tool=callgrind",
    `--callgrind-out-file=${out}`,
    process.execPath,
    "--single-threaded",
    fileURLToPath(import.meta.url)
  ], { env: { ...process.env, RUNNER_INSN_CHILD_N: String(n) }, stdio: ["ignore", "ignore", "pipe"] })
  const text = readFileSync(out, "utf8")
  rmSync(out)
  const totals = /^(?:totals|summary): (\d+)/m.exec(text)
  if (!totals) throw new Error(`no totals in ${out}`)
  return Number(totals[1])
}

if (CHILD_N !== undefined) {
  // RUNNER_INSN_CHILD_N=… without valgrind: one drain, e.g. under --cpu-prof
  const n = Number(CHILD_N)
  const cpu0 = process.cpuUsage()
  if (STORE === "postgres") await drainPostgres(n)
  else await drainInstant(n)
  const cpu = process.cpuUsage(cpu0)
  console.error(JSON.stringify({ store: STORE, n, cpuMsPer1000: Math.round((cpu.user + cpu.system) / n), ...calls }))
  process.exit(0)
} else {
  for (let r = 1; r <= REPEAT; r++) {
    const a = await count(A)
    const b = await count(B)
    console.log(JSON.stringify({
      store: STORE,
      a: A,
      b: B,
      instructionsA: a,
      instructionsB: b,
      instructionsPerJob: Math.round((b - a) / (B - A))
    }))
  }
  process.exit(0)
}
