/**
 * One process at a time on a PGlite data directory. PGlite has no lock of its
 * own: two processes that open the same directory both start, each with its
 * own copy of the database in memory, and overwrite each other's files — data
 * is lost without an error. `pglite({ dataDir })` therefore takes this lock
 * first and fails with {@link DataDirLocked} (inside a `StoreError`) while
 * another holder is alive; the holder keeps working.
 *
 * The lock is the file `jobtrack.lock` in the data directory, created
 * atomically (written in full under a temporary name, then hard-linked to
 * `jobtrack.lock`, which fails if it exists; `O_EXCL` where a file system has
 * no hard links). It holds the holder's pid, host name, a start token and the
 * time it was taken. It is removed when the scope closes, and at a normal
 * process exit (`process.exit`, the event loop running dry). A process killed
 * by a signal leaves it behind: the next opener sees the holder is gone and
 * takes over.
 *
 * When is a holder gone? On the same host: its pid no longer exists, it is a
 * zombie, or — on Linux, from `/proc/<pid>/stat` and the kernel's boot id — the
 * process with that pid started at another time than the holder (the pid was
 * reused by another program, or by this process after a container restart,
 * where every incarnation is pid 1). Where there is no `/proc` (macOS,
 * Windows), a pid reused by another program keeps the directory locked until
 * that program exits; delete the file once sure. A lock from another host
 * (a directory on shared storage) is never taken over: its liveness cannot be
 * checked from here; the error names the host. Worker threads share their
 * process's pid: a second thread opening the directory is refused as "this
 * process" (on Linux, where the start token tells it from an earlier process
 * with the same pid).
 *
 * Why not `proper-lockfile`: it decides staleness by the age of a lock it
 * refreshes every few seconds, so after a crash the directory stays locked
 * until that age passes, its lock records no pid to name in the error, and it
 * would be a third dependency (with graceful-fs and signal-exit) for a few
 * system calls. A takeover here is immediate and safe under concurrent
 * openers: a second exclusive file (`jobtrack.lock.takeover`) lets one opener
 * at a time re-read and remove a stale lock.
 *
 * @since 0.2.0
 */
import { linkSync, mkdirSync, openSync, readFileSync, realpathSync, statSync, unlinkSync, writeFileSync, writeSync, closeSync } from "node:fs"
import { hostname as osHostname } from "node:os"
import { join, resolve } from "node:path"
import { Data, Effect } from "effect"
import type { Scope } from "effect"
import { StoreError } from "@jobtrack/core"

/**
 * The lock file's name inside the data directory.
 *
 * @since 0.2.0
 * @category constants
 */
export const fileName = "jobtrack.lock"

/**
 * Who holds a locked data directory: this very process (the directory is
 * already open here, or in another of its worker threads), another live
 * process on this host, another host (not checkable from here), or unknown:
 * another opener is writing or taking over the lock at this very moment.
 *
 * @since 0.2.0
 * @category models
 */
export type Holder = "this process" | "another process" | "another host" | "unknown"

/**
 * The data directory is open in another live process (or already in this
 * one). `pglite()` fails with a `StoreError` whose `cause` is this error.
 *
 * @example
 * ```ts
 * const store = yield* pglite({ dataDir: "./data" }).pipe(
 *   Effect.catchTag("StoreError", (e) =>
 *     e.cause instanceof DataDirLock.DataDirLocked
 *       ? Effect.die(`./data is used by pid ${e.cause.pid}: stop it first`)
 *       : Effect.fail(e)))
 * ```
 * @since 0.2.0
 * @category errors
 */
export class DataDirLocked extends Data.TaggedError("DataDirLocked")<{
  readonly dataDir: string
  readonly lockFile: string
  readonly pid: number
  readonly hostname: string
  /** When the holder took the lock, if the lock file says. */
  readonly since: Date | undefined
  readonly holder: Holder
}> {
  override get message() {
    const since = this.since ? ` since ${this.since.toISOString()}` : ""
    switch (this.holder) {
      case "this process":
        return `the PGlite data directory ${this.dataDir} is already open in this process (pid ${this.pid}${since}): ` +
          "share one store, or close it before opening the directory again"
      case "another host":
        return `the PGlite data directory ${this.dataDir} is locked by pid ${this.pid} on another host, ${this.hostname}${since}: ` +
          `PGlite serves one process; if that process is gone, delete ${this.lockFile}`
      case "unknown":
        return `the PGlite data directory ${this.dataDir} is being locked by another process at this moment (${this.lockFile}): try again`
      default:
        return `the PGlite data directory ${this.dataDir} is in use by pid ${this.pid} on ${this.hostname}${since}: ` +
          "PGlite serves one process; stop that process, use another dataDir, or PostgreSQL for several processes"
    }
  }
}

/**
 * A held lock, released when the scope that acquired it closes.
 *
 * @since 0.2.0
 * @category models
 */
export interface Lock {
  readonly dataDir: string
  readonly lockFile: string
  /** Unique to this acquisition; written in the lock file. */
  readonly token: string
}

/** The lock file's content. */
interface Content {
  readonly pid: number
  readonly hostname: string
  /** `linux:<boot id>:<start time in clock ticks>`, or null where there is no `/proc`. */
  readonly start: string | null
  readonly token: string
  readonly since: string
}

/**
 * The file system path to lock for a PGlite `dataDir`, or undefined when the
 * database is not in a local directory (`memory://`, `idb://`, `opfs-ahp://`…).
 *
 * @example
 * ```ts
 * DataDirLock.directoryOf("file:///srv/jobs")  // "/srv/jobs"
 * DataDirLock.directoryOf("memory://")  // undefined
 * ```
 * @since 0.2.0
 * @category utils
 */
export const directoryOf = (dataDir: string): string | undefined => {
  if (dataDir.startsWith("file://")) return resolve(dataDir.slice("file://".length))
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(dataDir)) return undefined
  return resolve(dataDir)
}

/** The tokens of the locks this process holds, by lock file. */
const held = new Map<string, string>()

let exitHooked = false
const releaseAllOnExit = () => {
  for (const [lockFile, token] of held) releaseFile(lockFile, token)
}

const releaseFile = (lockFile: string, token: string): void => {
  if (held.get(lockFile) === token) held.delete(lockFile)
  try {
    const current = parse(readFileSync(lockFile, "utf8"))
    if (current?.token === token) unlinkSync(lockFile)
  } catch {
    // already gone: nothing to release
  }
}

const parse = (text: string): Content | undefined => {
  try {
    const c = JSON.parse(text) as Partial<Content>
    return typeof c.pid === "number" && typeof c.hostname === "string" && typeof c.token === "string"
      ? { pid: c.pid, hostname: c.hostname, start: typeof c.start === "string" ? c.start : null, token: c.token, since: String(c.since ?? "") }
      : undefined
  } catch {
    return undefined
  }
}

let bootId: string | null | undefined
const readBootId = (): string | null => {
  if (bootId === undefined) {
    try {
      bootId = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim()
    } catch {
      bootId = null
    }
  }
  return bootId
}

/** A process's state letter and start token from `/proc`, or undefined where it cannot be read. */
const procOf = (pid: number): { readonly state: string; readonly start: string | null } | undefined => {
  let stat: string
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8")
  } catch {
    return undefined
  }
  // "pid (comm) state ppid …": comm may hold spaces and parentheses; starttime is field 22
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  const boot = readBootId()
  const ticks = fields[19]
  return { state: fields[0] ?? "", start: boot !== null && ticks !== undefined ? `linux:${boot}:${ticks}` : null }
}

let ownStartToken: string | null | undefined
const ownStart = (): string | null => (ownStartToken ??= procOf(process.pid)?.start ?? null)

/** Whether a pid exists: `kill(pid, 0)` fails with ESRCH only when it does not. */
const pidExists = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== "ESRCH"
  }
}

/** Who holds a lock with this content, or "stale" when its holder is gone. */
const judge = (lockFile: string, c: Content): Holder | "stale" => {
  if (c.hostname !== osHostname()) return "another host"
  if (c.pid === process.pid) {
    if (held.get(lockFile) === c.token) return "this process"
    // this pid and this start: another worker thread, or another copy of this module, holds it;
    // this pid and another start: an earlier process that had this pid. With no start to compare
    // (no /proc), it may be a live thread of this process: never taken over
    const start = ownStart()
    return start === null || c.start === start ? "this process" : "stale"
  }
  if (!Number.isInteger(c.pid) || c.pid <= 0 || !pidExists(c.pid)) return "stale"
  const proc = procOf(c.pid)
  if (proc === undefined) return "another process" // no /proc (or hidden): the pid exists, trust it
  if (proc.state === "Z" || proc.state === "X") return "stale" // dead, not yet reaped
  if (c.start !== null && proc.start !== null && c.start !== proc.start) return "stale" // pid reused
  return "another process"
}

type Attempt =
  | { readonly _tag: "Acquired" }
  | { readonly _tag: "Locked"; readonly content: Content | undefined; readonly holder: Holder }
  | { readonly _tag: "Again" }

/** A lock file whose writer crashed between creating and writing it (no hard links only). */
const unreadableStaleMs = 5_000
/** A takeover file older than this was left by an opener that crashed mid-takeover. */
const takeoverStaleMs = 5_000

const ageMs = (path: string): number => Date.now() - statSync(path).mtimeMs

/** Create `file` with `text`, atomically and only if it does not exist; false if it does. */
const createExclusive = (file: string, text: string, tmp: string): boolean => {
  writeFileSync(tmp, text, { flag: "wx" })
  try {
    linkSync(tmp, file)
    return true
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === "EEXIST") return false
    // no hard links here (some network and FUSE file systems): O_EXCL, then the content
    const fd = openFlagsExclusive(file)
    if (fd === undefined) return false
    try {
      writeSync(fd, text)
    } finally {
      closeSync(fd)
    }
    return true
  } finally {
    try {
      unlinkSync(tmp)
    } catch {
      // nothing to clean
    }
  }
}

const openFlagsExclusive = (file: string): number | undefined => {
  try {
    return openSync(file, "wx")
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return undefined
    throw e
  }
}

const readContent = (file: string): { readonly content: Content | undefined } | undefined => {
  try {
    return { content: parse(readFileSync(file, "utf8")) }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined
    throw e
  }
}

/** One try: create the lock; or say who holds it; or remove a stale one and ask to try again. */
const attempt = (lockFile: string, content: Content): Attempt => {
  const text = JSON.stringify(content)
  if (createExclusive(lockFile, text, `${lockFile}.${content.token}`)) {
    held.set(lockFile, content.token) // at once: another open in this process must see it as this process's
    return { _tag: "Acquired" }
  }
  const found = readContent(lockFile)
  if (found === undefined) return { _tag: "Again" } // released meanwhile
  if (found.content === undefined) {
    return ageMs(lockFile) > unreadableStaleMs ? removeStale(lockFile, undefined) : { _tag: "Locked", content: undefined, holder: "unknown" }
  }
  const holder = judge(lockFile, found.content)
  return holder === "stale" ? removeStale(lockFile, found.content.token) : { _tag: "Locked", content: found.content, holder }
}

/**
 * Remove a lock judged stale, under the takeover lock, only if it is still the
 * one judged (another opener may have taken over and written its own since).
 */
const removeStale = (lockFile: string, token: string | undefined): Attempt => {
  const takeover = `${lockFile}.takeover`
  const fd = openFlagsExclusive(takeover)
  if (fd === undefined) {
    try {
      if (ageMs(takeover) > takeoverStaleMs) unlinkSync(takeover)
    } catch {
      // gone meanwhile
    }
    return { _tag: "Again" }
  }
  try {
    closeSync(fd)
    const now = readContent(lockFile)
    if (now !== undefined && now.content?.token === token) unlinkSync(lockFile)
    return { _tag: "Again" }
  } finally {
    try {
      unlinkSync(takeover)
    } catch {
      // removed as stale by another opener: nothing to clean
    }
  }
}

const ioError = (dataDir: string, e: unknown) =>
  new StoreError({
    reason: `could not lock the PGlite data directory ${dataDir} (${(e as NodeJS.ErrnoException).code ?? String(e)})`,
    retryable: false,
    kind: "internal",
    cause: e
  })

/** How many tries before a contended lock is reported as held (each a few system calls). */
const maxAttempts = 50

/**
 * Lock a PGlite data directory for this process until the scope closes
 * (creating the directory if needed). Fails with {@link DataDirLocked} while
 * a live process — this one included — holds it; takes over a lock whose
 * holder is gone.
 *
 * @example
 * ```ts
 * const pg = yield* DataDirLock.acquire("./data").pipe(
 *   Effect.andThen(Effect.acquireRelease(Effect.promise(() => PGlite.create("./data")), (p) => Effect.promise(() => p.close())))
 * )
 * ```
 * @since 0.2.0
 * @category constructors
 */
export const acquire = (dataDir: string): Effect.Effect<Lock, DataDirLocked | StoreError, Scope.Scope> =>
  Effect.acquireRelease(take(dataDir), (lock) => Effect.sync(() => releaseFile(lock.lockFile, lock.token)))

const take = (dataDir: string): Effect.Effect<Lock, DataDirLocked | StoreError> =>
  Effect.gen(function*() {
    // the real path: the same directory reached through a symbolic link is the same lock
    const dir = yield* Effect.try({
      try: () => {
        mkdirSync(resolve(dataDir), { recursive: true })
        return realpathSync(resolve(dataDir))
      },
      catch: (e) => ioError(resolve(dataDir), e)
    })
    const lockFile = join(dir, fileName)
    const content: Content = {
      pid: process.pid,
      hostname: osHostname(),
      start: ownStart(),
      token: globalThis.crypto.randomUUID(),
      since: new Date().toISOString()
    }
    for (let n = 1;; n++) {
      const result = yield* Effect.try({ try: () => attempt(lockFile, content), catch: (e) => ioError(dir, e) })
      if (result._tag === "Acquired") {
        if (!exitHooked) {
          exitHooked = true
          process.on("exit", releaseAllOnExit)
        }
        return { dataDir: dir, lockFile, token: content.token }
      }
      if (result._tag === "Locked" || n >= maxAttempts) {
        const c = result._tag === "Locked" ? result.content : undefined
        const since = c ? new Date(c.since) : undefined
        return yield* new DataDirLocked({
          dataDir: dir,
          lockFile,
          pid: c?.pid ?? 0,
          hostname: c?.hostname ?? "",
          since: since && !Number.isNaN(since.getTime()) ? since : undefined,
          holder: result._tag === "Locked" ? result.holder : "unknown"
        })
      }
      // another opener is taking over, or the lock changed hands: look again shortly
      yield* Effect.sleep("10 millis")
    }
  })
