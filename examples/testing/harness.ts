/** Start an example app as its own process, as a user would, and drive it over HTTP. */
import { execFileSync, spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import { mkdtempSync, readFileSync } from "node:fs"
import { request } from "node:http"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"

export const freePort = (): Promise<number> =>
  new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number }
      s.close(() => resolve(port))
    })
  })

export const tempDir = (name: string) => mkdtempSync(join(tmpdir(), `${name}-`))

export interface RunningApp {
  readonly url: string
  readonly process: ChildProcess
  readonly logs: Array<Record<string, unknown>>
  /** Child processes of the app, those whose command line matches `match` when given. */
  readonly children: (match?: RegExp) => Array<number>
  readonly stop: (signal?: NodeJS.Signals) => Promise<number | null>
}

/** Run `main` (an app's entry file) with `env`; resolves once it logged "app.listening". */
export const startApp = (main: string, env: Record<string, string>): Promise<RunningApp> =>
  startCommand(process.execPath, [main], env)

/** Run `command args…` (an app, however started) with `env`; resolves once it logged "app.listening". */
export const startCommand = async (
  command: string,
  args: ReadonlyArray<string>,
  env: Record<string, string>,
  cwd?: string
): Promise<RunningApp> => {
  const port = await freePort()
  const child = spawn(command, [...args], {
    // on PGlite unless the test says otherwise (CI sets DATABASE_URL for the store tests)
    env: { ...process.env, DATABASE_URL: "", PORT: String(port), ...env },
    stdio: ["ignore", "pipe", "pipe"],
    ...(cwd ? { cwd } : {})
  })
  // an app whose test gave up before it listened (a hook timeout) must not outlive the test run
  const reap = () => child.kill("SIGKILL")
  process.once("exit", reap)
  child.once("exit", () => process.off("exit", reap))
  const logs: Array<Record<string, unknown>> = []
  let stderr = ""
  child.stderr!.on("data", (d) => (stderr += d))
  await new Promise<void>((resolve, reject) => {
    let buffer = ""
    child.stdout!.on("data", (d: Buffer) => {
      buffer += d.toString()
      let nl: number
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl)
        buffer = buffer.slice(nl + 1)
        try {
          const entry = JSON.parse(line) as Record<string, unknown>
          logs.push(entry)
          if (entry.event === "app.listening") resolve()
        } catch {
          // not a log line
        }
      }
    })
    child.once("exit", (code) => reject(new Error(`app exited (${code}) before listening: ${stderr}`)))
  })
  return {
    url: `http://127.0.0.1:${port}`,
    process: child,
    logs,
    children: (match) => {
      try {
        const pids = execFileSync("pgrep", ["-P", String(child.pid)]).toString().trim().split("\n").filter(Boolean).map(Number)
        return match ? pids.filter((pid) => match.test(commandLine(pid))) : pids
      } catch {
        return []
      }
    },
    stop: (signal = "SIGTERM") =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve(child.exitCode)
        child.once("exit", (code) => resolve(code))
        child.kill(signal)
      })
  }
}

const commandLine = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ")
  } catch {
    return ""
  }
}

export const call = async (
  url: string,
  init: { method?: string; user?: string; body?: unknown } = {}
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
): Promise<{ status: number; body: any }> => {
  const res = await fetch(url, {
    method: init.method ?? "GET",
    headers: {
      ...(init.user ? { authorization: `Bearer ${init.user}` } : {}),
      ...(init.body !== undefined ? { "content-type": "application/json" } : {})
    },
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {})
  })
  const text = await res.text()
  return { status: res.status, body: text ? JSON.parse(text) : undefined }
}

/**
 * A raw HTTP request whose body is written chunk by chunk, each flushed before the next
 * (and, with `pauseMs`, given that long so the server reads the chunks apart);
 * rejects when the connection is reset (what a server that stops reading an unwanted body does).
 */
export const rawRequest = (
  url: string,
  options: { method?: string; headers: Record<string, string | number>; chunks: Iterable<Buffer | string>; pauseMs?: number }
) =>
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  new Promise<{ status: number; body: any }>((resolve, reject) => {
    const req = request(url, { method: options.method ?? "POST", headers: options.headers }, (res) => {
      let text = ""
      res.setEncoding("utf8").on("data", (d: string) => (text += d)).on("end", () => {
        try {
          resolve({ status: res.statusCode!, body: text ? JSON.parse(text) : undefined })
        } catch {
          reject(new Error(`not JSON (${res.statusCode}): ${text.slice(0, 200)}`))
        }
      })
    })
    req.on("error", reject)
    void (async () => {
      for (const chunk of options.chunks) {
        if (req.destroyed) return
        await new Promise<void>((r) => req.write(chunk, () => r()))
        if (options.pauseMs) await new Promise((r) => setTimeout(r, options.pauseMs))
      }
      req.end()
    })()
  })

export const until = async <A>(f: () => Promise<A>, ok: (a: A) => boolean, withinMs: number, what: string): Promise<A> => {
  const start = Date.now()
  while (true) {
    const a = await f()
    if (ok(a)) return a
    if (Date.now() - start > withinMs) throw new Error(`${what}: not reached within ${withinMs} ms (last: ${JSON.stringify(a)})`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

export const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}
