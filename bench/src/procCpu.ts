/**
 * CPU time of processes on this machine, read from `/proc/<pid>/stat` (utime +
 * stime, in 10 ms ticks): the workloads' measure of what the workers and the
 * database's backends spent, which a loaded machine moves less than wall time.
 * Only meaningful when PostgreSQL runs on this machine; elsewhere the readings
 * are empty.
 */
import { readFileSync } from "node:fs"
import type pg from "pg"

/** CPU milliseconds (user + system) a process has used so far; undefined once it is gone or not readable. */
const readCpuMs = (pid: number): number | undefined => {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")
    return (Number(fields[11]) + Number(fields[12])) * 10
  } catch {
    return undefined
  }
}

/** CPU milliseconds (user + system) a process has used so far; 0 once it is gone or not readable. */
export const cpuMs = (pid: number): number => readCpuMs(pid) ?? 0

/** CPU milliseconds used so far by each backend connected to `admin`'s database, `admin`'s own left out. */
export const backendsCpuMs = async (admin: pg.Client): Promise<Map<number, number>> => {
  const { rows } = await admin.query<{ pid: number }>(
    "select pid from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()"
  )
  const cpu = new Map<number, number>()
  for (const { pid } of rows) {
    const ms = readCpuMs(pid)
    if (ms !== undefined) cpu.set(pid, ms)
  }
  return cpu
}

/** CPU the backends used between two readings (a backend that ended meanwhile is not counted). */
export const backendsCpuSince = (before: Map<number, number>, after: Map<number, number>): number => {
  let ms = 0
  for (const [pid, t] of after) ms += t - (before.get(pid) ?? 0)
  return ms
}
