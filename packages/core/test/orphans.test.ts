/**
 * No orphans: the processes a job starts through `Command` (and the ones
 * those start) die with the job, and with the host process, however it dies.
 */
import { spawn } from "node:child_process"
import { existsSync, readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { afterAll, assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Schema } from "effect"
import { Command, JobDefinition, RetryPolicy } from "@jobtrack/core"
import { setup, waitFor } from "./helpers.js"

const host = fileURLToPath(new URL("./fixtures/host.ts", import.meta.url))
/** Every process these tests started or learned of, killed at the end whatever happened. */
const started: Array<number> = []

/** Whether a process runs (a zombie, dead but not yet reaped by its new parent, does not). */
const running = (pid: number): boolean => {
  if (existsSync("/proc/self/stat")) {
    try {
      return !/\) [ZX] /.test(readFileSync(`/proc/${pid}/stat`, "utf8"))
    } catch {
      return false
    }
  }
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** Waits until none of `pids` runs; fails naming the survivors after `withinMs`. */
const goneWithin = (pids: ReadonlyArray<number>, withinMs: number) =>
  Effect.gen(function*() {
    const start = Date.now()
    while (pids.some(running)) {
      if (Date.now() - start > withinMs) {
        return yield* Effect.fail(new Error(`still running after ${withinMs} ms: ${pids.filter(running).join(", ")}`))
      }
      yield* Effect.sleep("10 millis")
    }
  })

/** Whatever a failed test left running is killed, so one failure does not leave sleepers behind. */
const sweep = (pids: () => ReadonlyArray<number>) =>
  Effect.sync(() => {
    for (const pid of pids()) {
      try {
        if (running(pid)) process.kill(pid, "SIGKILL")
      } catch {
        // gone meanwhile
      }
    }
  })

/** Starts the host fixture; resolves once its job's child and grandchild run. */
const startHost = Effect.callback<{ host: number; child: number; grandchild: number }, Error>((resume) => {
  const proc = spawn(process.execPath, [host], { stdio: ["ignore", "pipe", "pipe"] })
  started.push(proc.pid!)
  let out = ""
  let err = ""
  let ready = false
  proc.stderr!.on("data", (d) => (err += d))
  proc.stdout!.setEncoding("utf8").on("data", (d: string) => {
    out += d
    const child = /^child (\d+)\n/m.exec(out)
    const grandchild = /^grandchild (\d+)\n/m.exec(out)
    if (child && grandchild && !ready) {
      ready = true
      started.push(Number(child[1]), Number(grandchild[1]))
      resume(Effect.succeed({ host: proc.pid!, child: Number(child[1]), grandchild: Number(grandchild[1]) }))
    }
  })
  proc.once("exit", (code) => resume(Effect.fail(new Error(`host exited (${code}) before its job ran: ${err}`))))
  return Effect.sync(() => proc.kill("SIGKILL"))
})

describe("no orphans", () => {
  afterAll(() => Effect.runSync(sweep(() => started)))

  it.live("SIGKILLed hosts take their jobs' children and grandchildren with them, 10 out of 10", () =>
    Effect.gen(function*() {
      // ten hosts side by side, each killed on its own: ten independent trials
      const hosts = yield* Effect.all(Array.from({ length: 10 }, () => startHost), { concurrency: 2 })
      for (const { child, grandchild, host } of hosts) {
        assert.isTrue(running(child) && running(grandchild))
        process.kill(host, "SIGKILL")
      }
      yield* goneWithin(hosts.flatMap((h) => [h.host, h.child, h.grandchild]), 5_000)
    }), 120_000)

  it.live("a cancelled job's whole process group is killed: the grandchild too, not only the child", () =>
    Effect.gen(function*() {
      const pids = yield* Deferred.make<{ child: number; grandchild: number }>()
      let child = 0
      const def = JobDefinition.make({
        type: "tree",
        payload: Schema.Struct({}),
        retry: RetryPolicy.none,
        handler: () =>
          // the grandchild holds no pipe of ours: the child's exit alone ends the command
          Command.run("sh", ["-c", "sleep 60 >/dev/null 2>&1 & echo $!; wait"], {
            killGraceMs: 300,
            onStart: (pid) => Effect.sync(() => (child = pid)),
            onStdout: (line) => Deferred.succeed(pids, { child, grandchild: Number(line) }).pipe(Effect.asVoid)
          })
      })
      const { tracker } = yield* setup([def], { pollInterval: "50 millis" })
      const { job } = yield* tracker.enqueue(def, {})
      const { child: c, grandchild } = yield* Deferred.await(pids)
      started.push(c, grandchild)
      assert.isTrue(running(c) && running(grandchild))
      yield* tracker.cancel(job.id)
      assert.strictEqual((yield* waitFor(tracker, job.id, (v) => v.status === "cancelled")).status, "cancelled")
      yield* goneWithin([c, grandchild], 2_000)
    }))
})
