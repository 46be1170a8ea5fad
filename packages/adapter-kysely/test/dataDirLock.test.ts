/**
 * One process at a time on a PGlite data directory (DataDirLock): real child
 * processes that really hold the directory, really die (SIGKILL) and really
 * race; every wait is bounded and ends on a line the child printed or on its exit.
 */
import { spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import { cpSync, existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import { hostname, tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { Cause, Effect, Exit, Scope } from "effect"
import { afterAll, afterEach, assert, beforeAll, describe, it } from "vitest"
import { DataDirLock, pglite } from "@jobtrack/adapter-kysely"
import { StoreError } from "@jobtrack/core"
import type { JobStoreShape } from "@jobtrack/core"

const fixture = fileURLToPath(new URL("./fixtures/pglite-holder.ts", import.meta.url))
/** The machine may be loaded (several sessions): PGlite's start alone can take seconds. */
const withinMs = 180_000

interface Holder {
  readonly child: ChildProcess
  /** The first stdout line starting with `prefix`; rejects when the child exits first, or after `withinMs`. */
  readonly line: (prefix: string) => Promise<string>
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

const children: Array<ChildProcess> = []
const dirs: Array<string> = []

const holder = (dataDir: string, key: string): Holder => {
  const child = spawn(process.execPath, [fixture, dataDir, key], { stdio: ["pipe", "pipe", "pipe"] })
  children.push(child)
  const lines: Array<string> = []
  let buffered = ""
  let err = ""
  const waiting = new Set<() => void>()
  child.stdout!.on("data", (d: Buffer) => {
    buffered += d.toString()
    const parts = buffered.split("\n")
    buffered = parts.pop()!
    lines.push(...parts)
    for (const w of waiting) w()
  })
  child.stderr!.on("data", (d) => (err += d))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => {
      resolve({ code, signal })
      for (const w of waiting) w()
    })
  )
  const line = (prefix: string) =>
    new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => done(() => reject(new Error(`no "${prefix}" from ${key} within ${withinMs} ms: ${lines.join(" | ")} ${err}`))), withinMs)
      const done = (f: () => void) => {
        clearTimeout(timer)
        waiting.delete(check)
        f()
      }
      const check = () => {
        const hit = lines.find((l) => l.startsWith(prefix))
        if (hit !== undefined) return done(() => resolve(hit))
        if (child.exitCode !== null || child.signalCode !== null) {
          done(() => reject(new Error(`${key} exited (${child.exitCode ?? child.signalCode}) before "${prefix}": ${lines.join(" | ")} ${err}`)))
        }
      }
      waiting.add(check)
      check()
    })
  return { child, line, exited }
}

interface Failed {
  readonly tag: string
  readonly message: string
  /** The fields of the error itself: DataDirLock.acquire fails with DataDirLocked, pglite() with a StoreError. */
  readonly pid?: number
  readonly holder?: string
  readonly cause: { readonly tag: string; readonly pid: number; readonly dataDir: string; readonly holder: string; readonly hostname: string }
}
const failure = (line: string): Failed => JSON.parse(line.slice("failed ".length)) as Failed

const tempDir = () => {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), "jt-lock-")))
  dirs.push(dir)
  return dir
}

/**
 * A data directory already initialised and migrated, copied from one made once
 * (PGlite's initdb takes seconds, minutes on a loaded machine); no lock in it.
 */
let template: string | undefined
const seeded = () => {
  const dir = tempDir()
  cpSync(template!, dir, { recursive: true })
  return dir
}
const lockOf = (dir: string) => JSON.parse(readFileSync(join(dir, DataDirLock.fileName), "utf8")) as { pid: number; start: string | null }

/** Open a store in this process; the scope closes it. */
const openHere = async (dataDir: string) => {
  const scope = Effect.runSync(Scope.make())
  const exit = await Effect.runPromiseExit(Scope.provide(pglite({ dataDir }), scope))
  return { scope, exit, close: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
}
const keys = (store: JobStoreShape, ...ks: Array<string>) =>
  Effect.runPromise(Effect.forEach(ks, (k) => Effect.exit(store.findByKey("kept", k)))).then((xs) => xs.map(Exit.isSuccess))

/** A pid that existed and is gone: a child that ran and was reaped. */
const deadPid = async () => {
  const child = spawn(process.execPath, ["-e", ""], { stdio: "ignore" })
  await new Promise((r) => child.once("exit", r))
  return child.pid!
}

const failedWith = <A>(exit: Exit.Exit<A, unknown>) => {
  assert.isTrue(Exit.isFailure(exit), "expected a failure")
  const error = Cause.findErrorOption((exit as Exit.Failure<A, unknown>).cause)
  assert.isTrue(error._tag === "Some")
  return (error as { value: unknown }).value
}

afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL")
})
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

describe("a PGlite data directory belongs to one process (DataDirLock)", () => {
  beforeAll(async () => {
    const dir = tempDir()
    const made = await openHere(dir)
    assert.isTrue(Exit.isSuccess(made.exit))
    await made.close()
    template = dir
  }, 2 * withinMs)

  it("a second live process is refused with DataDirLocked naming the directory and the holder's pid; the first keeps writing and its data is intact", async () => {
    const dir = seeded()
    const a = holder(dir, "a")
    await a.line("ready")

    const b = holder(dir, "b")
    const refused = failure(await b.line("failed"))
    assert.deepStrictEqual((await b.exited).code, 3)
    assert.strictEqual(refused.tag, "StoreError")
    assert.strictEqual(refused.cause.tag, "DataDirLocked")
    assert.strictEqual(refused.cause.pid, a.child.pid)
    assert.strictEqual(refused.cause.dataDir, dir)
    assert.strictEqual(refused.cause.holder, "another process")
    assert.include(refused.message, dir)
    assert.include(refused.message, `pid ${a.child.pid}`)

    // the holder still writes after the refusal
    a.child.stdin!.write("enqueue a2\n")
    await a.line("enqueued a2")
    a.child.kill("SIGTERM")
    assert.deepStrictEqual(await a.exited, { code: 0, signal: null })
    assert.isFalse(existsSync(join(dir, DataDirLock.fileName)), "a clean close removes the lock file")

    const here = await openHere(dir)
    assert.isTrue(Exit.isSuccess(here.exit))
    try {
      const store = (here.exit as Exit.Success<JobStoreShape, unknown>).value
      assert.deepStrictEqual(await keys(store, "a", "a2", "b"), [true, true, false])
    } finally {
      await here.close()
    }
  }, 4 * withinMs)

  it("a holder killed with SIGKILL leaves its lock behind; the next process takes over and sees what the holder committed", async () => {
    const dir = seeded()
    const a = holder(dir, "a")
    await a.line("ready")
    a.child.kill("SIGKILL")
    assert.deepStrictEqual(await a.exited, { code: null, signal: "SIGKILL" })
    assert.strictEqual(lockOf(dir).pid, a.child.pid, "SIGKILL runs no clean-up")

    const b = holder(dir, "b")
    await b.line("ready")
    assert.strictEqual(lockOf(dir).pid, b.child.pid)
    b.child.kill("SIGTERM")
    assert.deepStrictEqual(await b.exited, { code: 0, signal: null })

    const here = await openHere(dir)
    try {
      const store = (here.exit as Exit.Success<JobStoreShape, unknown>).value
      assert.deepStrictEqual(await keys(store, "a", "b"), [true, true])
    } finally {
      await here.close()
    }
  }, 4 * withinMs)

  it("four processes race for a stale lock: exactly one takes it, the others are refused naming the winner", async () => {
    const dir = tempDir()
    writeFileSync(join(dir, DataDirLock.fileName), JSON.stringify({ pid: await deadPid(), hostname: hostname(), start: null, token: "old", since: "" }))
    const racers = ["r1", "r2", "r3", "r4"].map(() => holder(dir, "--lock-only"))
    const outcomes = await Promise.all(racers.map((r) => Promise.race([r.line("ready"), r.line("failed")])))
    const winners = racers.filter((_, i) => outcomes[i]!.startsWith("ready"))
    assert.strictEqual(winners.length, 1, outcomes.join("\n"))
    const winner = winners[0]!
    assert.strictEqual(lockOf(dir).pid, winner.child.pid)
    for (const o of outcomes.filter((o) => o.startsWith("failed"))) {
      assert.strictEqual(failure(o).tag, "DataDirLocked")
      assert.strictEqual(failure(o).pid, winner.child.pid)
      assert.strictEqual(failure(o).holder, "another process")
    }
    // a normal exit (process.exit, no scope closed) removes the lock too
    winner.child.stdin!.write("exit\n")
    assert.strictEqual((await winner.exited).code, 0)
    assert.isFalse(existsSync(join(dir, DataDirLock.fileName)))
  }, 2 * withinMs)

  it("this process opening the directory twice (also through a symbolic link): the second open fails, the first keeps working; once closed, it opens again", async () => {
    const dir = seeded()
    const link = join(tempDir(), "link")
    symlinkSync(dir, link)
    const first = await openHere(dir)
    assert.isTrue(Exit.isSuccess(first.exit))
    const store = (first.exit as Exit.Success<JobStoreShape, unknown>).value
    try {
      for (const spelling of [dir, link, `file://${dir}`]) {
        const second = await openHere(spelling)
        const error = failedWith(second.exit)
        assert.instanceOf(error, StoreError)
        const cause = (error as StoreError).cause
        assert.instanceOf(cause, DataDirLock.DataDirLocked)
        assert.strictEqual((cause as DataDirLock.DataDirLocked).holder, "this process")
        assert.strictEqual((cause as DataDirLock.DataDirLocked).pid, process.pid)
        assert.include((error as StoreError).message, "already open in this process")
        await second.close()
      }
      // the failed opens released nothing of the first
      assert.strictEqual(lockOf(dir).pid, process.pid)
      await Effect.runPromise(store.findByKey("kept", "none").pipe(Effect.flip))
    } finally {
      await first.close()
    }
    assert.isFalse(existsSync(join(dir, DataDirLock.fileName)))
    const again = await openHere(dir)
    assert.isTrue(Exit.isSuccess(again.exit))
    await again.close()
  }, 2 * withinMs)

  it("databases not in a local directory take no lock; a file:// URL locks its path", () => {
    assert.isUndefined(DataDirLock.directoryOf("memory://"))
    assert.isUndefined(DataDirLock.directoryOf("idb://jobs"))
    assert.strictEqual(DataDirLock.directoryOf("file:///srv/jobs"), "/srv/jobs")
  })
})

describe("DataDirLock: whose lock is stale", () => {
  const acquire = async (dir: string) => {
    const scope = Effect.runSync(Scope.make())
    const exit = await Effect.runPromiseExit(Scope.provide(DataDirLock.acquire(dir), scope))
    await Effect.runPromise(Scope.close(scope, Exit.void))
    return exit
  }
  const writeLock = (dir: string, lock: { pid: number; hostname?: string; start: string | null }) =>
    writeFileSync(join(dir, DataDirLock.fileName), JSON.stringify({ hostname: hostname(), token: "theirs", since: "2026-01-01T00:00:00.000Z", ...lock }))
  const procStart = (pid: number) => {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    const boot = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim()
    return `linux:${boot}:${stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]}`
  }

  it.skipIf(!existsSync("/proc/self/stat"))("a live pid that started when the holder did holds it; the same pid started at another time (reused) does not", async () => {
    const other = spawn("sleep", ["60"], { stdio: "ignore" })
    children.push(other)
    await new Promise((r) => other.once("spawn", r))
    const dir = tempDir()

    writeLock(dir, { pid: other.pid!, start: procStart(other.pid!) })
    const held = failedWith(await acquire(dir))
    assert.instanceOf(held, DataDirLock.DataDirLocked)
    assert.strictEqual((held as DataDirLock.DataDirLocked).pid, other.pid)
    assert.strictEqual((held as DataDirLock.DataDirLocked).since?.toISOString(), "2026-01-01T00:00:00.000Z")

    writeLock(dir, { pid: other.pid!, start: procStart(other.pid!).replace(/:\d+$/, ":1") })
    assert.isTrue(Exit.isSuccess(await acquire(dir)))
    assert.isFalse(existsSync(join(dir, DataDirLock.fileName)), "released with the scope")
  })

  it("a lock left by an earlier process with this very pid (a container's pid 1 after a restart) is taken over", async () => {
    const dir = tempDir()
    writeLock(dir, { pid: process.pid, start: null })
    assert.isTrue(Exit.isSuccess(await acquire(dir)))
  })

  it("a lock from another host is never taken over: the error names the host", async () => {
    const dir = tempDir()
    writeLock(dir, { pid: await deadPid(), hostname: "elsewhere.example", start: null })
    const error = failedWith(await acquire(dir)) as DataDirLock.DataDirLocked
    assert.strictEqual(error._tag, "DataDirLocked")
    assert.strictEqual(error.holder, "another host")
    assert.include(error.message, "elsewhere.example")
    assert.include(error.message, `delete ${join(dir, DataDirLock.fileName)}`)
  })
})
