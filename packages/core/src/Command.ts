/**
 * Run a child process from a handler so that interruption (cancel, timeout,
 * shutdown) kills it: SIGTERM to its whole process group, then SIGKILL after
 * a grace period. The interruption returns only once the process is gone.
 *
 * The child leads its own process group, so its children (a shell's
 * pipeline, a script's workers) are signalled with it. It also dies with the
 * host: when the host process is killed outright (SIGKILL, the OOM killer)
 * and no finalizer runs, a small reaper process watching a pipe from the
 * host sees it close and kills the group (see `internal/reaper.ts`). POSIX
 * only: process groups and `/bin/sh` are assumed.
 *
 * Built on `node:child_process` rather than `effect/process`: its spawner is
 * implemented in `@effect/platform-node`, which core does not depend on
 * (core depends on `effect` alone), and taking it as a requirement would put
 * a `ChildProcessSpawner` in every handler's environment and in the Promise
 * facade. It would not cover the host's death either: its kill on scope
 * close is a finalizer, and a SIGKILLed host runs none.
 *
 * @since 0.1.0
 */
import { basename } from "node:path"
import { Cause, Data, Effect, Exit, Option } from "effect"
import * as Reaper from "./internal/reaper.js"

/**
 * The process could not start, or exited with a non-zero code or a signal.
 *
 * The message becomes a failed job's `errorMessage`, which end users see over
 * HTTP: it names the program by its base name only (never its directory, the
 * arguments — which often hold payloads — or the environment), then the exit
 * code or signal and a summary of stderr: the first line that looks like an
 * error (`TypeError [ERR_…]: …`, `ValueError: …`, `error: …`) and the last
 * lines after it, without stack frames, carets or Node's `Node.js v20…` footer,
 * absolute paths shortened to `…/<name>`, at most 512 bytes. A crashing Node
 * script so shows its error, not the footer.
 *
 * @since 0.1.0
 * @category errors
 */
export class CommandFailed extends Data.TaggedError("CommandFailed")<{
  /** The program's base name, e.g. `node` for `/usr/local/bin/node`. */
  readonly command: string
  readonly exitCode: number | null
  readonly signal: string | null
  /**
   * The last lines of stderr (at most 4 KiB), the program's path and its
   * arguments (of 6 characters or more) replaced by `<command>` and
   * `<argument N>` wherever the program printed them whole. A part of an
   * argument, or one printed in another form (a field of a JSON argument,
   * escaped), is not recognised: pass secrets on stdin or in the
   * environment, not as arguments.
   */
  readonly stderr: string
  readonly cause?: unknown
}> {
  override get message() {
    const code = (this.cause as { code?: unknown } | undefined)?.code
    const how = this.exitCode !== null
      ? `exited with code ${this.exitCode}`
      : this.signal
      ? `was killed by ${this.signal}`
      : `could not start${typeof code === "string" ? ` (${code})` : ""}`
    const tail = summary(this.stderr)
    return `${this.command} ${how}${tail ? `: ${tail}` : ""}`
  }
}

const MAX_SUMMARY_BYTES = 512
/** Stack frames (`at f (file:3:1)`), carets under a source line, Node's version footer. */
const noise = /^(?:at\s|[\^~\s]+$|Node\.js v\d)/
/** `Error: …`, `TypeError [ERR_X]: …`, `ValueError: …`, `java.io.IOException: …`, `error: …`, `fatal: …`. */
const errorLike = /^(?:[\w$.]*(?:Error|Exception)(?:\s*\[[\w.-]+\])?:|(?:error|fatal|panic)\b)/i
/** An absolute path (two segments or more), or a file: URL, not inside a word or another URL. */
const absolutePath = /(?<![\w/.:-])(?:file:\/\/)?(?:\/[^\s/'"`:()[\]{},]+){2,}\/?/g

/** A failed command's stderr in one line: the first error-like line, then the last lines after it. */
const summary = (stderr: string): string => {
  const lines = stderr.split("\n").map((l) => l.trim()).filter((l) => l !== "" && !noise.test(l))
  const first = lines.findIndex((l) => errorLike.test(l))
  const kept = first < 0 ? lines.slice(-3) : [lines[first]!, ...lines.slice(Math.max(first + 1, lines.length - 3))]
  const text = kept.join(" | ").replace(absolutePath, (path) => `…/${path.replace(/\/$/, "").split("/").at(-1)}`)
  const bytes = Buffer.from(text)
  if (bytes.length <= MAX_SUMMARY_BYTES) return text
  // cut on a character boundary: drop a partial UTF-8 sequence at the end
  return bytes.subarray(0, MAX_SUMMARY_BYTES - 3).toString("utf8").replace(/\uFFFD$/, "") + "…"
}

/** stderr with the program's path and its arguments replaced, wherever it printed them. */
const redact = (stderr: string, command: string, args: ReadonlyArray<string>): string => {
  const secrets: Array<[string, string]> = args
    .map((arg, i): [string, string] => [arg, `<argument ${i + 1}>`])
    .filter(([arg]) => arg.length >= 6)
  if (command.includes("/")) secrets.push([command, "<command>"])
  // longest first, so an argument inside another is not replaced first
  secrets.sort((a, b) => b[0].length - a[0].length)
  let out = stderr
  for (const [secret, label] of secrets) {
    out = out.split(secret).join(label)
    if (secret.startsWith("/")) out = out.split(`file://${encodeURI(secret)}`).join(label)
  }
  return out
}

/**
 * @since 0.1.0
 * @category models
 */
export interface CommandOptions {
  readonly cwd?: string
  readonly env?: Readonly<Record<string, string | undefined>>
  /** Called with every complete line of stdout, e.g. to parse progress. */
  readonly onStdout?: (line: string) => Effect.Effect<void>
  readonly onStderr?: (line: string) => Effect.Effect<void>
  /** Time between SIGTERM and SIGKILL when interrupted (default 2000 ms). */
  readonly killGraceMs?: number
  /** Text written to the process's stdin, which is then closed. */
  readonly stdin?: string
  /** Called once the process has started, with its pid. */
  readonly onStart?: (pid: number) => Effect.Effect<void>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface CommandResult {
  readonly exitCode: 0
  readonly stdout: string
  readonly stderr: string
  readonly pid: number
}

const MAX_KEEP = 1 << 20

/**
 * Run `command args…` to completion. Fails with {@link CommandFailed} on a
 * non-zero exit; when the calling fiber is interrupted the process group is
 * terminated and the interruption waits for its exit.
 *
 * @example
 * ```ts
 * handler: (payload, ctx) =>
 *   Command.run("python3", ["pipeline.py", "--hours", String(payload.hours)], {
 *     onStdout: (line) => line.startsWith("PROGRESS ")
 *       ? ctx.progress(Number(line.split(" ")[1]), line.split(" ").slice(2).join(" "))
 *       : Effect.void
 *   })
 * ```
 * @since 0.1.0
 * @category constructors
 */
export const run = (
  command: string,
  args: ReadonlyArray<string>,
  options: CommandOptions = {}
): Effect.Effect<CommandResult, CommandFailed> =>
  Effect.withFiber((fiber) =>
    Effect.callback<CommandResult, CommandFailed>((resume) => {
      const services = fiber.context
      const runLine = (f: ((line: string) => Effect.Effect<void>) | undefined, line: string) => {
        if (f) Effect.runForkWith(services)(f(line))
      }
      const { spawn } = process.getBuiltinModule("node:child_process") // loaded when used, not on import
      const child = spawn(command, [...args], {
        cwd: options.cwd,
        env: options.env ? { ...options.env } : process.env,
        detached: true,
        stdio: [options.stdin === undefined ? "ignore" : "pipe", "pipe", "pipe"]
      })
      let stdout = ""
      let stderr = ""
      let outBuf = ""
      let errBuf = ""
      let exited = false
      const onExitWaiters: Array<() => void> = []
      child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
        if (stdout.length < MAX_KEEP) stdout += chunk
        outBuf += chunk
        let nl: number
        while ((nl = outBuf.indexOf("\n")) >= 0) {
          runLine(options.onStdout, outBuf.slice(0, nl).replace(/\r$/, ""))
          outBuf = outBuf.slice(nl + 1)
        }
      })
      // stderr's last 4 KiB, kept longer by the longest argument so that one printed whole at the
      // start of that tail is still whole when it is redacted
      const errKeep = 4096 + Math.max(command.length, ...args.map((a) => a.length))
      child.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
        stderr = (stderr + chunk).slice(-errKeep)
        errBuf += chunk
        let nl: number
        while ((nl = errBuf.indexOf("\n")) >= 0) {
          runLine(options.onStderr, errBuf.slice(0, nl).replace(/\r$/, ""))
          errBuf = errBuf.slice(nl + 1)
        }
      })
      const graceMs = options.killGraceMs ?? 2000
      const reaper = child.pid === undefined ? undefined : Reaper.watch(child.pid, graceMs, (cause) =>
        Effect.runForkWith(services)(
          Effect.logWarning(`jobtrack: no reaper for a child process; it may outlive a crash of this process: ${String(cause)}`)
        ))
      if (options.stdin !== undefined) child.stdin!.end(options.stdin)
      if (child.pid !== undefined) runLine(options.onStart && (() => options.onStart!(child.pid!)), "")
      const label = basename(command)
      child.once("error", (cause) => {
        reaper?.dispose()
        exited = true
        onExitWaiters.forEach((w) => w())
        resume(Effect.fail(new CommandFailed({ command: label, exitCode: null, signal: null, stderr: redact(stderr, command, args).slice(-4096), cause })))
      })
      child.once("close", (code, signal) => {
        reaper?.dispose()
        exited = true
        onExitWaiters.forEach((w) => w())
        if (outBuf) runLine(options.onStdout, outBuf)
        if (errBuf) runLine(options.onStderr, errBuf)
        resume(
          code === 0
            ? Effect.succeed({ exitCode: 0, stdout, stderr: stderr.slice(-4096), pid: child.pid ?? -1 })
            : Effect.fail(new CommandFailed({ command: label, exitCode: code, signal, stderr: redact(stderr, command, args).slice(-4096) }))
        )
      })
      // Interruption: terminate the group, escalate, and wait until it is gone.
      return Effect.callback<void>((done) => {
        if (exited || child.pid === undefined) return done(Effect.void)
        const pid = child.pid
        const kill = (sig: NodeJS.Signals) => {
          try {
            process.kill(-pid, sig)
          } catch {
            try {
              child.kill(sig)
            } catch {
              // already gone
            }
          }
        }
        const timer = setTimeout(() => kill("SIGKILL"), graceMs)
        onExitWaiters.push(() => {
          clearTimeout(timer)
          done(Effect.void)
        })
        kill("SIGTERM")
      })
    })
  )

/**
 * Options of {@link runPromise}: those of {@link run} with plain callbacks,
 * and the signal that stops the process.
 *
 * @since 0.2.0
 * @category models
 */
export interface PromiseCommandOptions extends Omit<CommandOptions, "onStdout" | "onStderr" | "onStart"> {
  /** Aborting it (e.g. `ctx.signal`) terminates the process group and rejects once it is gone. */
  readonly signal?: AbortSignal
  readonly onStdout?: (line: string) => unknown
  readonly onStderr?: (line: string) => unknown
  readonly onStart?: (pid: number) => unknown
}

const plain = <A>(f: (arg: A) => unknown) => (arg: A): Effect.Effect<void> => Effect.sync(() => void f(arg))

/**
 * {@link run} for async handlers: resolves with the result, rejects with
 * {@link CommandFailed}, and when `signal` aborts kills the process group
 * (SIGTERM, then SIGKILL after the grace period) and rejects with the
 * signal's reason once the process is gone.
 *
 * @example
 * ```ts
 * run: async (payload, ctx) => {
 *   const { stdout } = await Command.runPromise("python3", ["pipeline.py"], {
 *     signal: ctx.signal,
 *     onStdout: (line) => { if (line.startsWith("PROGRESS ")) void ctx.progress(Number(line.split(" ")[1])) }
 *   })
 *   return JSON.parse(stdout)
 * }
 * ```
 * @since 0.2.0
 * @category constructors
 */
export const runPromise = async (
  command: string,
  args: ReadonlyArray<string>,
  options: PromiseCommandOptions = {}
): Promise<CommandResult> => {
  const { signal, onStdout, onStderr, onStart, ...rest } = options
  signal?.throwIfAborted()
  const exit = await Effect.runPromiseExit(
    run(command, args, {
      ...rest,
      ...(onStdout ? { onStdout: plain(onStdout) } : {}),
      ...(onStderr ? { onStderr: plain(onStderr) } : {}),
      ...(onStart ? { onStart: plain(onStart) } : {})
    }),
    signal ? { signal } : undefined
  )
  if (Exit.isSuccess(exit)) return exit.value
  const failure = Cause.findErrorOption(exit.cause)
  if (Option.isSome(failure)) throw failure.value
  if (Cause.hasInterruptsOnly(exit.cause)) throw signal?.reason ?? new DOMException("The command was stopped", "AbortError")
  throw Cause.squash(exit.cause)
}
