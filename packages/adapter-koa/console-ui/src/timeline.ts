// The detail view's timeline: the job's events in time order, built only from what
// `GET api/jobs/<id>` returns (no store keeps more: progress values between reports
// are not kept, and only the latest attempt's start is). Plain data and strings: the
// page renders every text as a text node.

/** The fields of the detail response the timeline reads (times are ISO strings). */
export interface TimelineJob {
  readonly status: string
  readonly createdAt: string
  readonly runAt: string
  readonly startedAt: string | null
  readonly completedAt: string | null
  readonly nextRetryAt: string | null
  readonly updatedAt: string
  readonly attempts: number
  readonly lockedBy: string | null
  readonly progress: number
  readonly progressMessage: string | null
  readonly errors: ReadonlyArray<{ readonly attempt: number; readonly message: string; readonly at: string }>
  readonly steps?: ReadonlyArray<{
    readonly name: string
    readonly status: string
    readonly attempts: number
    readonly error: string | null
    readonly startedAt: string | null
    readonly completedAt: string | null
  }> | undefined
  readonly logs?: ReadonlyArray<{
    readonly attempt: number
    readonly at: string
    readonly level: string
    readonly message: string
  }> | undefined
}

export interface TimelineEntry {
  /** ISO time of the event. */
  readonly at: string
  /** Milliseconds since the job was created. */
  readonly offsetMs: number
  readonly kind: "created" | "scheduled" | "attempt" | "failure" | "step" | "sleep" | "log" | "retry" | "end" | "progress"
  /** What happened, as plain text. */
  readonly text: string
}

export interface Timeline {
  readonly entries: ReadonlyArray<TimelineEntry>
  /** Entries left off past the cap. */
  readonly more: number
}

/** Entries shown at most. */
export const cap = 200

const firstLine = (s: string) => {
  const line = s.split("\n", 1)[0] ?? ""
  return line.length < s.length ? `${line} …` : line
}

/** "+1.2 s", "+3.5 min", "+2.0 h" (a negative offset, from clock skew between processes, as "−"). */
export const fmtOffset = (ms: number): string => {
  const sign = ms < 0 ? "−" : "+"
  const a = Math.abs(ms)
  return a < 60_000
    ? `${sign}${(a / 1000).toFixed(1)} s`
    : a < 3_600_000
    ? `${sign}${(a / 60_000).toFixed(1)} min`
    : `${sign}${(a / 3_600_000).toFixed(1)} h`
}

/**
 * The job's events, oldest first (ties keep the order below: creation, run time,
 * attempts, steps, logs, the end), capped at `limit`; the current progress is always
 * the last point.
 */
export const build = (job: TimelineJob, limit: number = cap): Timeline => {
  const created = Date.parse(job.createdAt)
  const events: Array<Omit<TimelineEntry, "offsetMs">> = []
  const add = (at: string | null, kind: TimelineEntry["kind"], text: string) => {
    if (at !== null && !Number.isNaN(Date.parse(at))) events.push({ at, kind, text })
  }
  add(job.createdAt, "created", "created")
  if (Date.parse(job.runAt) !== created) add(job.runAt, "scheduled", "run at (latest run time set)")
  for (const e of job.errors) add(e.at, "failure", `attempt ${e.attempt} failed: ${firstLine(e.message)}`)
  if (job.startedAt !== null && job.attempts > 0) {
    add(job.startedAt, "attempt", `attempt ${job.attempts} started${job.lockedBy ? ` on ${job.lockedBy}` : ""}`)
  }
  for (const s of job.steps ?? []) {
    if (/^sleep#\d+$/.test(s.name)) {
      add(s.completedAt, "sleep", `durable sleep (${s.name}): attempt ended, job waits`)
      continue
    }
    const tries = s.attempts > 1 ? ` (try ${s.attempts})` : ""
    add(s.startedAt, "step", `step "${s.name}" started${tries}`)
    if (s.status === "completed") add(s.completedAt, "step", `step "${s.name}" completed`)
    else if (s.status === "failed") add(s.startedAt, "step", `step "${s.name}" failed${s.error ? `: ${firstLine(s.error)}` : ""}`)
  }
  for (const l of job.logs ?? []) add(l.at, "log", `attempt ${l.attempt} ${l.level}: ${l.message}`)
  if (job.nextRetryAt !== null) add(job.nextRetryAt, "retry", "next retry due")
  if (job.status === "completed" || job.status === "failed" || job.status === "cancelled") add(job.completedAt, "end", job.status)

  const sorted = events
    .map((e, i) => ({ e, i, t: Date.parse(e.at) }))
    .sort((a, b) => a.t - b.t || a.i - b.i)
    .map(({ e, t }) => ({ ...e, offsetMs: t - created }))
  const progressAt = job.updatedAt
  const last: TimelineEntry = {
    at: progressAt,
    offsetMs: Date.parse(progressAt) - created,
    kind: "progress",
    text: `progress ${Math.round(job.progress)}%${job.progressMessage ? `: ${job.progressMessage}` : ""} (current)`
  }
  const shown = sorted.slice(0, Math.max(0, limit - 1))
  return { entries: [...shown, last], more: sorted.length - shown.length }
}
