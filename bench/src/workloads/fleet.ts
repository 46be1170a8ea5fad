/**
 * A fleet of worker processes: real child processes (this machine's `node`
 * running a given module) that each set up their workers, say they are
 * ready, start together on "go", report how many jobs they have started, and
 * stop on SIGTERM. Start-up (node, imports, connecting) happens before the
 * clock starts. Used by the multi-process workloads (`scaleOut.ts`,
 * `scaleOutIo.ts`).
 *
 * Parent side: `spawnFleet`; child side: `serveFleetChild`.
 */
import { spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"

/** What a child runs: its workers, started once, stopped once. */
export interface FleetWorkers {
  /** Start working; call `onJob` as each job starts (optional: a workload may count in the database). */
  readonly start: (onJob: () => void) => Promise<void>
  readonly stop: () => Promise<void>
  /** Stop working but stay connected, ready to `start` again (after a warm-up; optional). */
  readonly pause?: () => Promise<void>
}

/** The parent's handle on its children. */
export interface Fleet {
  readonly children: ReadonlyArray<ChildProcess>
  /** Tell every child to start. */
  readonly go: () => void
  /** Jobs the children have reported started so far (reported every `REPORT_MS`). */
  readonly started: () => number
  /** Resolves once the children have reported `n` jobs started in all. */
  readonly startedAtLeast: (n: number) => Promise<void>
  /**
   * Warm the children up, one after the other: `enqueue` jobs, then the child
   * alone drains `count` jobs and pauses (its workers stopped, its connections
   * kept), so the timed drain starts with code that has run, not with each
   * process's first jobs. Needs `FleetWorkers.pause`.
   */
  readonly warm: (count: number, enqueue: () => Promise<void>) => Promise<void>
  /** SIGTERM to every child, resolved when all have exited. */
  readonly stop: () => Promise<void>
}

/** How often a child reports its started jobs (a figure's resolution). */
const REPORT_MS = 5

/**
 * Spawn `processes` children running `module` (a file path) with `args`,
 * each calling `serveFleetChild`; resolves once all are ready.
 */
export const spawnFleet = async (module: string, args: ReadonlyArray<string>, processes: number): Promise<Fleet> => {
  const counts = Array.from({ length: processes }, () => 0)
  let total = 0
  const waiters: Array<{ n: number; resolve: () => void }> = []
  const children = Array.from({ length: processes }, (_, k) => {
    const c = spawn(process.execPath, [module, ...args], { stdio: ["ignore", "inherit", "inherit", "ipc"] })
    c.on("message", (m: unknown) => {
      if (typeof m !== "object" || m === null || !("started" in m)) return
      const n = Number((m as { started: number }).started)
      total += n - counts[k]!
      counts[k] = n
      for (const w of waiters.filter((w) => total >= w.n)) {
        waiters.splice(waiters.indexOf(w), 1)
        w.resolve()
      }
    })
    return c
  })
  const exited = children.map((c) => new Promise<void>((resolve) => c.once("exit", () => resolve())))
  try {
    await Promise.all(children.map((c) => new Promise<void>((resolve, reject) => {
      c.on("message", (m) => m === "ready" && resolve())
      c.once("exit", (code) => reject(new Error(`a worker process exited with ${code} before it was ready`)))
    })))
  } catch (e) {
    for (const c of children) c.kill("SIGTERM")
    throw e
  }
  return {
    children,
    go: () => {
      for (const c of children) c.send("go")
    },
    started: () => total,
    warm: async (count, enqueue) => {
      for (const c of children) {
        await enqueue()
        await new Promise<void>((resolve, reject) => {
          const on = (m: unknown) => {
            if (typeof m !== "object" || m === null || !("warmed" in m)) return
            c.off("message", on)
            if ((m as { warmed: number }).warmed === count) resolve()
            else reject(new Error("a worker process cannot pause after its warm-up"))
          }
          c.on("message", on)
          c.send({ warm: count })
        })
      }
    },
    startedAtLeast: (n) => total >= n ? Promise.resolve() : new Promise((resolve) => waiters.push({ n, resolve })),
    stop: async () => {
      for (const c of children) if (c.exitCode === null) c.kill("SIGTERM")
      await Promise.all(exited)
    }
  }
}

/**
 * The child side: set up with `setup`, say "ready", start on "go", report the
 * jobs started every `REPORT_MS` while the count moves, stop on SIGTERM (and
 * exit within 3 s whatever the workers do).
 */
export const serveFleetChild = async (setup: () => Promise<FleetWorkers>): Promise<void> => {
  const workers = await setup()
  let started = 0
  let reported = 0
  const report = setInterval(() => {
    if (started === reported) return
    reported = started
    process.send?.({ started })
  }, REPORT_MS)
  process.on("message", (m) => {
    if (m === "go") void workers.start(() => void started++)
    if (typeof m === "object" && m !== null && "warm" in m) void warmUp(Number((m as { warm: number }).warm))
  })
  // drain `count` jobs (enqueued for this child alone), then pause; not counted in `started`
  const warmUp = async (count: number) => {
    if (workers.pause === undefined) return void process.send?.({ warmed: -1 })
    let seen = 0
    let done!: () => void
    const all = new Promise<void>((resolve) => (done = resolve))
    await workers.start(() => {
      if (++seen === count) done()
    })
    await all
    await workers.pause()
    process.send?.({ warmed: count })
  }
  process.once("SIGTERM", () => {
    clearInterval(report)
    setTimeout(() => process.exit(0), 3000).unref()
    void workers.stop().finally(() => process.exit(0))
  })
  process.send?.("ready")
}

export { cpuMs } from "../procCpu.ts"

export const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length === 0 ? NaN : s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}
