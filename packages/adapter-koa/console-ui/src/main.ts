// The operator console: Preact components written with htm (tagged templates: no JSX
// build step). Every value from the API is rendered as a text node (htm/Preact escape
// it); nothing is ever set as HTML.
import { h, render } from "preact"
import { useEffect, useState } from "preact/hooks"
import htm from "htm"
import "uplot/dist/uPlot.min.css"
import "./style.css"
import { ApiError, get, loadMe, post } from "./api.js"
import type { Me } from "./api.js"
import { Chart } from "./chart.js"
import * as Live from "./live.js"
import * as Timeline from "./timeline.js"

const html = htm.bind(h)

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Job = any

const statuses = ["pending", "processing", "retrying", "completed", "failed", "cancelled"]
const fmtTime = (iso: string | null) => (iso ? new Date(iso).toLocaleString() : "—")
/** Milliseconds between two instants as "1.2 s"; "—" when either end is unknown. */
const fmtDuration = (from: string | null | undefined, to: string | null | undefined) => {
  if (!from || !to) return "—"
  const ms = new Date(to).getTime() - new Date(from).getTime()
  return ms < 1000 ? `${ms} ms` : ms < 60_000 ? `${(ms / 1000).toFixed(1)} s` : `${(ms / 60_000).toFixed(1)} min`
}
const fmtAge = (iso: string) => {
  const s = Math.max(0, Math.round((Date.now() - new Date(iso).getTime()) / 1000))
  return s < 120 ? `${s} s` : s < 7200 ? `${Math.round(s / 60)} min` : `${Math.round(s / 3600)} h`
}
const json = (v: unknown) => JSON.stringify(v, null, 2)
/** A pending job's place: "3", or "more than 1,000" when the store stopped counting; null otherwise. */
const queuePlace = (job: Job): string | null =>
  job.queuePosition === null || job.queuePosition === undefined
    ? null
    : job.queuePositionCapped
    ? `more than ${(job.queuePosition - 1).toLocaleString("en")}`
    : String(job.queuePosition)

/** The current route, from the hash: #/, #/jobs?…, #/jobs/<id>, #/schedules, #/audit. */
const useRoute = () => {
  const [hash, setHash] = useState(location.hash || "#/")
  useEffect(() => {
    const on = () => setHash(location.hash || "#/")
    addEventListener("hashchange", on)
    return () => removeEventListener("hashchange", on)
  }, [])
  const [path, query = ""] = hash.slice(1).split("?")
  return { path: path || "/", query: new URLSearchParams(query) }
}

/** Load with `load`, again on every live change; errors are shown as text. */
const useLive = <A>(load: () => Promise<A>, deps: ReadonlyArray<unknown>, job?: string) => {
  const [data, setData] = useState<A | undefined>(undefined)
  const [err, setErr] = useState<string | undefined>(undefined)
  useEffect(() => {
    let alive = true
    const refresh = () =>
      load().then((d) => alive && (setData(d), setErr(undefined)), (e: Error) => alive && setErr(e.message))
    refresh()
    const stop = Live.live(refresh, job)
    return () => {
      alive = false
      stop()
    }
  }, deps)
  return { data, err }
}

/**
 * Whether the page follows changes, as text: "Live", or why live updates are paused and when
 * the page tries again (counted down each second).
 */
const LiveStatus = () => {
  const [status, setStatus] = useState(Live.status())
  const [, setNow] = useState(0)
  useEffect(() => {
    const stop = Live.onStatus(() => setStatus(Live.status()))
    setStatus(Live.status())
    return stop
  }, [])
  const retryAt = status?.state === "paused" ? status.retryAt : undefined
  useEffect(() => {
    if (retryAt === undefined) return
    const t = setInterval(() => setNow(Date.now()), 1000)
    return () => clearInterval(t)
  }, [retryAt])
  if (status === undefined) return null
  const text = status.state === "live"
    ? "Live"
    : status.state === "connecting"
    ? "Connecting to live updates…"
    : `Live updates paused: ${status.reason}. ${
      status.retryAt === undefined || status.retryAt <= Date.now()
        ? "Reconnecting…"
        : `Reconnecting in ${Math.ceil((status.retryAt - Date.now()) / 1000)} s.`
    }`
  return html`<span class="live-status" role="status" data-state=${status.state}>${text}</span>`
}

const Bar = ({ value }: { value: number }) => html`<progress max="100" value=${value}>${Math.round(value)}%</progress>`

const Status = ({ s }: { s: string }) => html`<span class=${`status status-${s}`}>${s}</span>`

// ---------------------------------------------------------------- overview

const Overview = () => {
  const { data, err } = useLive(() => get("overview"), [])
  const hour = useLive(() => get("series", { range: "hour" }), [])
  const day = useLive(() => get("series", { range: "day" }), [])
  if (err) return html`<p class="error">${err}</p>`
  if (!data) return html`<p>Loading…</p>`
  const groups = new Map<string, Record<string, { count: number; capped: boolean }>>()
  for (const r of data.counts) {
    const k = `${r.queue}\u0000${r.type}`
    const g = groups.get(k) ?? {}
    g[r.status] = { count: r.count, capped: r.capped }
    groups.set(k, g)
  }
  const cell = (c?: { count: number; capped: boolean }) => (c ? (c.capped ? `≥ ${c.count}` : String(c.count)) : "0")
  const failureRate = (g: Record<string, { count: number }>) => {
    const done = (g.completed?.count ?? 0) + (g.failed?.count ?? 0)
    return done === 0 ? "—" : `${(((g.failed?.count ?? 0) / done) * 100).toFixed(1)}%`
  }
  return html`
    <section>
      <h2>Jobs by queue and type</h2>
      <table class="counts">
        <thead><tr><th>Queue</th><th>Type</th>${statuses.map((s) => html`<th>${s}</th>`)}<th>failure rate</th></tr></thead>
        <tbody>
          ${[...groups.entries()].map(([k, g]) => {
            const [queue, type] = k.split("\u0000")
            return html`<tr>
              <td>${queue}</td>
              <td><a href=${`#/jobs?type=${encodeURIComponent(type!)}&queue=${encodeURIComponent(queue!)}`}>${type}</a></td>
              ${statuses.map((s) => html`<td class="num"><a href=${`#/jobs?type=${encodeURIComponent(type!)}&queue=${encodeURIComponent(queue!)}&status=${s}`}>${cell(g[s])}</a></td>`)}
              <td class="num">${failureRate(g)}</td>
            </tr>`
          })}
        </tbody>
      </table>
      <p class="hint">Counts stop at ${data.cap.toLocaleString()} per status: "≥ n" is a lower bound.</p>
    </section>
    <section>
      <h2>Oldest waiting</h2>
      ${data.oldest_waiting.length === 0
        ? html`<p>No queue has a claimable job waiting.</p>`
        : html`<ul>${data.oldest_waiting.map((o: Job) => html`<li>${o.queue}: waiting ${fmtAge(o.since)} (<a href=${`#/jobs/${o.id}`}>${o.id}</a>)</li>`)}</ul>`}
    </section>
    <section>
      <h2>Running now</h2>
      ${data.running.length === 0 ? html`<p>Nothing is running.</p>` : html`
        <table>
          <thead><tr><th>Job</th><th>Type</th><th>Owner</th><th>Worker</th><th>Progress</th><th>Message</th></tr></thead>
          <tbody>${data.running.map((j: Job) => html`<tr>
            <td><a href=${`#/jobs/${j.id}`}>${j.id.slice(0, 13)}…</a></td><td>${j.type}</td><td>${j.owner ?? "—"}</td>
            <td>${j.lockedBy}</td><td><${Bar} value=${j.progress} /></td><td>${j.progressMessage ?? ""}</td>
          </tr>`)}</tbody>
        </table>`}
    </section>
    <section class="charts">
      <h2>Last hour (per minute)</h2>
      ${hour.data ? html`<${Chart} buckets=${hour.data.buckets} bucketMs=${hour.data.bucket_ms} />` : html`<p>Loading…</p>`}
      <h2>Last day (per 15 minutes)</h2>
      ${day.data ? html`<${Chart} buckets=${day.data.buckets} bucketMs=${day.data.bucket_ms} />` : html`<p>Loading…</p>`}
    </section>
  `
}

// ---------------------------------------------------------------- actions

const actionLabels: Record<string, string> = {
  retry: "Retry",
  cancel: "Cancel",
  delete: "Delete",
  runNow: "Run now",
  setPriority: "Set priority"
}

/** The operator's actions on jobs (the others are on schedules). */
const jobActions = (me: Me) => me.actions.filter((a) => Object.hasOwn(actionLabels, a))

const ActionBar = (
  { me, onAct }: { me: Me; onAct: (action: string, priority?: number) => void }
) => {
  const [priority, setPriority] = useState("0")
  if (jobActions(me).length === 0) return null
  return html`<span class="actions">
    ${jobActions(me).filter((a) => a !== "setPriority").map((a) => html`<button type="button" data-action=${a} onClick=${() => onAct(a)}>${actionLabels[a]}</button>`)}
    ${me.actions.includes("setPriority") ? html`
      <input type="number" min="-1000" max="1000" aria-label="priority" value=${priority} onInput=${(e: Event) => setPriority((e.target as HTMLInputElement).value)} />
      <button type="button" data-action="setPriority" onClick=${() => onAct("setPriority", Number(priority))}>Set priority</button>` : null}
  </span>`
}

// ---------------------------------------------------------------- list

const filterFields = ["status", "type", "queue", "owner", "key", "error", "created_from", "created_to", "finished_from", "finished_to"]

/**
 * The filters, held in the form's own state while the operator types (the list
 * under it re-renders on every live change); applied to the URL on submit.
 */
const FilterForm = ({ initial }: { initial: Record<string, string> }) => {
  const [values, setValues] = useState<Record<string, string>>(initial)
  const bind = (name: string) => ({
    name,
    value: values[name] ?? "",
    onInput: (e: Event) => setValues({ ...values, [name]: (e.target as HTMLInputElement).value }),
    onChange: (e: Event) => setValues({ ...values, [name]: (e.target as HTMLInputElement).value })
  })
  const onSubmit = (e: Event) => {
    e.preventDefault()
    const q = new URLSearchParams()
    for (const [k, v] of Object.entries(values)) if (v !== "") q.set(k, v)
    location.hash = `#/jobs?${q}`
  }
  return html`
    <form class="filters" onSubmit=${onSubmit}>
      <label>Status <select ...${bind("status")}>
        <option value="">any</option>${statuses.map((s) => html`<option value=${s}>${s}</option>`)}
      </select></label>
      ${["type", "queue", "owner", "key", "error"].map((f) => html`<label>${f === "error" ? "Error text" : f}
        <input ...${bind(f)} /></label>`)}
      ${["created_from", "created_to", "finished_from", "finished_to"].map((f) => html`<label>${f.replace("_", " ")}
        <input placeholder="2026-11-30T09:00Z" ...${bind(f)} /></label>`)}
      <label>Sort <select ...${bind("sort")}>
        <option value="createdAt">created</option><option value="completedAt">finished</option><option value="runAt">run at</option>
      </select></label>
      <label>Order <select ...${bind("order")}><option value="desc">newest first</option><option value="asc">oldest first</option></select></label>
      <button type="submit">Apply filters</button>
    </form>`
}

const JobsList = ({ me, query }: { me: Me; query: URLSearchParams }) => {
  const filter: Record<string, string> = {}
  for (const f of filterFields) if (query.get(f)) filter[f] = query.get(f)!
  const sort = query.get("sort") ?? "createdAt"
  const order = query.get("order") ?? "desc"
  const [cursors, setCursors] = useState<Array<string>>([])
  const cursor = cursors[cursors.length - 1] ?? ""
  const [selected, setSelected] = useState<Set<string>>(new Set())
  const [notice, setNotice] = useState<string | undefined>(undefined)
  const key = query.toString() + cursor
  const { data, err } = useLive(() => get("jobs", { ...filter, sort, order, limit: "50", cursor }), [key])
  useEffect(() => setCursors([]), [query.toString()])

  const report = (p: Promise<unknown>) =>
    p.then((r: Job) => setNotice(r?.job_id ? `Bulk job ${r.job_id} started` : `${r.applied} changed, ${r.skipped} skipped`),
      (e: ApiError) => setNotice(`Refused: ${e.message}`))
  const onSelection = (action: string, priority?: number) =>
    selected.size === 0
      ? setNotice("Select jobs first")
      : report(post("selection", { action, priority, ids: [...selected] })).then(() => setSelected(new Set()))
  const [bulkAction, setBulkAction] = useState<{ action: string; priority?: number } | undefined>(undefined)
  const onBulk = () => {
    if (!bulkAction) return
    const { action, priority } = bulkAction
    setBulkAction(undefined)
    // no filter set: every job, which the server acts on only when told so (`all`)
    report(post("bulk", { action, priority, filter, ...(Object.keys(filter).length === 0 ? { all: true } : {}) }))
  }

  return html`
    <${FilterForm} key=${query.toString()} initial=${{ ...filter, sort, order }} />
    ${notice ? html`<p class="notice" role="status">${notice}</p>` : null}
    ${jobActions(me).length > 0 ? html`<div class="toolbar">
      <span>Selection (${selected.size}): </span><${ActionBar} me=${me} onAct=${onSelection} />
      <span class="by-filter">Every job matching the filters:
        ${jobActions(me).filter((a) => a !== "setPriority").map((a) => html`<button type="button" data-bulk=${a} onClick=${() => setBulkAction({ action: a })}>${actionLabels[a]} all</button>`)}
      </span>
      ${bulkAction ? html`<span class="confirm">${actionLabels[bulkAction.action]} ${Object.keys(filter).length === 0 ? "every job (no filter is set)" : "every job matching these filters"}?
        <button type="button" data-confirm="yes" onClick=${onBulk}>Yes, ${bulkAction.action}</button>
        <button type="button" onClick=${() => setBulkAction(undefined)}>No</button></span>` : null}
    </div>` : null}
    ${err ? html`<p class="error">${err}</p>` : !data ? html`<p>Loading…</p>` : html`
      <table class="jobs">
        <thead><tr>${jobActions(me).length > 0 ? html`<th></th>` : null}<th>Job</th><th>Type</th><th>Queue</th><th>Owner</th><th>Status</th><th>Progress</th><th>Created</th><th>Finished</th><th>Error</th></tr></thead>
        <tbody>${data.items.map((j: Job) => html`<tr data-id=${j.id}>
          ${jobActions(me).length > 0 ? html`<td><input type="checkbox" aria-label="select" checked=${selected.has(j.id)} onChange=${() => {
            const next = new Set(selected)
            if (next.has(j.id)) next.delete(j.id)
            else next.add(j.id)
            setSelected(next)
          }} /></td>` : null}
          <td><a href=${`#/jobs/${j.id}`}>${j.id.slice(0, 13)}…</a></td>
          <td>${j.type}</td><td>${j.queue}</td><td>${j.owner ?? "—"}</td><td><${Status} s=${j.status} /></td>
          <td><${Bar} value=${j.progress} /></td><td>${fmtTime(j.createdAt)}</td><td>${fmtTime(j.completedAt)}</td>
          <td class="err">${j.errorMessage ?? ""}</td>
        </tr>`)}</tbody>
      </table>
      ${data.items.length === 0 ? html`<p>No job matches.</p>` : null}
      <p class="paging">
        <button type="button" disabled=${cursors.length === 0} onClick=${() => setCursors([])}>First page</button>
        <button type="button" disabled=${cursors.length === 0} onClick=${() => setCursors(cursors.slice(0, -1))}>Previous</button>
        <button type="button" disabled=${!data.next_cursor} onClick=${() => setCursors([...cursors, data.next_cursor])}>Next</button>
      </p>`}
  `
}

// ---------------------------------------------------------------- detail

/**
 * One row per failed attempt (from `errors`: start and worker where recorded), then the
 * current or last attempt from the row itself unless it is the last failed one (the same
 * start; a manual retry counts attempts from 1 again, so the number alone can't tell).
 * Text only.
 */
const AttemptsTable = ({ job }: { job: Job }) => {
  const failed: Array<Job> = job.errors
  const last = failed[failed.length - 1]
  const sameAsLast = last !== undefined &&
    (last.startedAt ? Date.parse(last.startedAt) === Date.parse(job.startedAt) : last.attempt === job.attempts)
  const current = job.attempts > 0 && job.startedAt && !sameAsLast
    ? {
      attempt: job.attempts,
      start: job.startedAt,
      end: job.status === "processing" ? null : job.completedAt,
      worker: job.lockedBy,
      outcome: job.status === "processing" ? "running" : job.status
    }
    : null
  if (failed.length === 0 && current === null) return html`<p>None.</p>`
  return html`<table class="attempts"><thead><tr><th>Attempt</th><th>Start</th><th>End</th><th>Duration</th><th>Worker</th><th>Outcome / error</th></tr></thead>
    <tbody>${failed.map((e: Job) => html`<tr><td>${e.attempt}</td><td>${fmtTime(e.startedAt ?? null)}</td><td>${fmtTime(e.at)}</td>
      <td>${fmtDuration(e.startedAt, e.at)}</td><td>${e.worker ?? "—"}</td><td><pre>${e.message}</pre>${
      e.stack ? html`<details class="stack"><summary>Stack</summary><pre>${e.stack}</pre></details>` : null}</td></tr>`)}
    ${current === null ? null : html`<tr class="current"><td>${current.attempt}</td><td>${fmtTime(current.start)}</td>
      <td>${current.end === null ? "running" : fmtTime(current.end)}</td><td>${fmtDuration(current.start, current.end ?? new Date().toISOString())}</td>
      <td>${current.worker ?? "—"}</td><td>${current.outcome}</td></tr>`}</tbody></table>`
}

/** The job's events in time order (see timeline.ts), each time relative to creation. */
const TimelineTable = ({ job }: { job: Timeline.TimelineJob }) => {
  const { entries, more } = Timeline.build(job)
  const entry = (e: Timeline.TimelineEntry) => html`<tr data-kind=${e.kind}>
    <td class="when"><time datetime=${e.at} title=${fmtTime(e.at)}>${Timeline.fmtOffset(e.offsetMs)}</time></td><td>${e.text}</td>
  </tr>`
  return html`<table class="timeline"><tbody>
    ${entries.slice(0, -1).map(entry)}
    ${more > 0 ? html`<tr class="more"><td></td><td>${more.toLocaleString("en")} more events not shown</td></tr>` : null}
    ${entries.slice(-1).map(entry)}
  </tbody></table>`
}

const Detail = ({ me, id }: { me: Me; id: string }) => {
  const { data: job, err } = useLive(() => get(`jobs/${encodeURIComponent(id)}`), [id], id)
  const [notice, setNotice] = useState<string | undefined>(undefined)
  if (err) return html`<p class="error">${err}</p>`
  if (!job) return html`<p>Loading…</p>`
  const act = (action: string, priority?: number) =>
    post(`jobs/${encodeURIComponent(id)}/action`, { action, priority }).then(
      () => setNotice(`${actionLabels[action]}: done`),
      (e: ApiError) => setNotice(`Refused: ${e.message}`)
    )
  const row = (label: string, value: unknown) => html`<tr><th>${label}</th><td>${value === null || value === undefined ? "—" : String(value)}</td></tr>`
  return html`
    <h2>Job <span class="mono">${job.id}</span> <${Status} s=${job.status} /></h2>
    ${jobActions(me).length > 0 ? html`<${ActionBar} me=${me} onAct=${act} />` : null}
    ${notice ? html`<p class="notice" role="status">${notice}</p>` : null}
    <section class="grid">
      <table class="fields"><tbody>
        ${row("Type", job.type)}${row("Queue", job.queue)}${row("Owner", job.owner)}${row("Key", job.key)}
        ${row("Group", job.groupKey === null ? null : `${job.groupKey} (limit ${job.groupLimit ?? "none"})`)}
        ${row("Priority", job.priority)}${row("Queue position", queuePlace(job))}
        ${row("Attempts", `${job.attempts} of ${job.maxAttempts}`)}${row("Worker", job.lockedBy)}
        ${row("Cancel requested", job.cancelRequested ? "yes" : "no")}
        ${row("Created", fmtTime(job.createdAt))}${row("Run at", fmtTime(job.runAt))}${row("Started", fmtTime(job.startedAt))}
        ${row("Finished", fmtTime(job.completedAt))}${row("Next retry", fmtTime(job.nextRetryAt))}
      </tbody></table>
      <div>
        <h3>Progress</h3>
        <p><${Bar} value=${job.progress} /> <span class="progress-text">${Math.round(job.progress)}%</span> <span class="message">${job.progressMessage ?? ""}</span></p>
        ${job.errorMessage ? html`<h3>Error</h3><pre class="error-text">${job.errorMessage}</pre>` : null}
      </div>
    </section>
    <h3>Timeline</h3>
    <${TimelineTable} job=${job} />
    <h3>Payload</h3><pre class="payload">${json(job.payload)}</pre>
    <h3>Result</h3><pre class="result">${json(job.result)}</pre>
    <h3>Attempts</h3>
    <${AttemptsTable} job=${job} />
    ${job.steps?.length ? html`<h3>Steps</h3><table><thead><tr><th>#</th><th>Step</th><th>Status</th><th>Attempts</th></tr></thead>
      <tbody>${job.steps.map((s: Job) => html`<tr><td>${s.index}</td><td>${s.name}</td><td>${s.status}</td><td>${s.attempts ?? ""}</td></tr>`)}</tbody></table>` : null}
    <h3>Logs</h3>
    ${job.logs?.length ? html`<table class="logs"><thead><tr><th>Attempt</th><th>At</th><th>Level</th><th>Message</th><th>Fields</th></tr></thead>
      <tbody>${job.logs.map((l: Job) => html`<tr><td>${l.attempt}</td><td>${fmtTime(l.at)}</td><td>${l.level}</td><td>${l.message}</td><td>${l.fields ? JSON.stringify(l.fields) : ""}</td></tr>`)}</tbody></table>` : html`<p>No log lines.</p>`}
  `
}

// ---------------------------------------------------------------- audit

const Audit = () => {
  const [before, setBefore] = useState<Array<string>>([])
  const { data, err } = useLive(() => get("audit", { limit: "50", before: before[before.length - 1] ?? "" }), [before.join()])
  if (err) return html`<p class="error">${err}</p>`
  if (!data) return html`<p>Loading…</p>`
  return html`
    <h2>Audit trail</h2>
    <table class="audit"><thead><tr><th>When</th><th>Who</th><th>What</th><th>Target</th><th>How many</th><th>Bulk job</th></tr></thead>
      <tbody>${data.items.map((e: Job) => html`<tr><td>${fmtTime(e.at)}</td><td>${e.actor}</td><td>${e.action}</td>
        <td><code>${JSON.stringify(e.target)}</code></td><td class="num">${e.count ?? "…"}</td>
        <td>${e.jobId ? html`<a href=${`#/jobs/${e.jobId}`}>${e.jobId.slice(0, 13)}…</a>` : ""}</td></tr>`)}</tbody></table>
    <p class="paging">
      <button type="button" disabled=${before.length === 0} onClick=${() => setBefore([])}>Newest</button>
      <button type="button" disabled=${!data.next_cursor} onClick=${() => setBefore([...before, data.next_cursor])}>Older</button>
    </p>`
}

// ---------------------------------------------------------------- schedules

const scheduleLabels: Record<string, string> = {
  pauseSchedule: "Pause",
  resumeSchedule: "Resume",
  triggerSchedule: "Run now"
}

/**
 * Every cron schedule with its next run, re-read on live changes and ticks;
 * pause, resume and run now for an operator who may (the buttons of the
 * actions they hold: a read-only operator sees none).
 */
const Schedules = ({ me }: { me: Me }) => {
  const [version, setVersion] = useState(0)
  const [notice, setNotice] = useState<string | undefined>(undefined)
  const { data, err } = useLive(() => get("schedules"), [version])
  if (err) return html`<p class="error">${err}</p>`
  if (!data) return html`<p>Loading…</p>`
  if (data.items.length === 0) return html`<h2>Schedules</h2><p>No schedules are configured.</p>`
  const allowed = me.actions.filter((a) => Object.hasOwn(scheduleLabels, a))
  const act = (name: string, action: string) =>
    post(`schedules/${encodeURIComponent(name)}/action`, { action }).then(
      (r: Job) => (setNotice(r?.job_id ? `${name}: job ${r.job_id} enqueued` : `${name}: ${r.paused ? "paused" : "resumed"}`), setVersion(version + 1)),
      (e: ApiError) => setNotice(`Refused: ${e.message}`)
    )
  const buttons = (s: Job) =>
    allowed
      .filter((a) => (a === "pauseSchedule" ? !s.paused : a === "resumeSchedule" ? s.paused : true))
      .map((a) => html`<button type="button" data-schedule-action=${a} onClick=${() => act(s.name, a)}>${scheduleLabels[a]}</button>`)
  return html`
    <h2>Schedules</h2>
    ${notice ? html`<p class="notice" role="status">${notice}</p>` : null}
    <table class="schedules"><thead><tr><th>Name</th><th>Cron</th><th>Time zone</th><th>Job type</th><th>Owner</th><th>State</th>
      <th>Next run</th><th>Last tick</th>${allowed.length > 0 ? html`<th>Actions</th>` : null}</tr></thead>
      <tbody>${data.items.map((s: Job) => html`<tr data-name=${s.name}><td>${s.name}</td><td><code>${s.cron}</code></td>
        <td>${s.time_zone}</td><td>${s.type}</td><td>${s.owner ?? "—"}</td><td class="state">${s.paused ? "paused" : "active"}</td>
        <td class="next-run">${s.next_run_at ? html`<time datetime=${s.next_run_at}>${fmtTime(s.next_run_at)}</time>` : "—"}</td>
        <td>${s.last_tick_at ? html`<time datetime=${s.last_tick_at}>${fmtTime(s.last_tick_at)}</time>` : "—"}</td>
        ${allowed.length > 0 ? html`<td class="actions">${buttons(s)}</td>` : null}</tr>`)}</tbody></table>`
}

// ---------------------------------------------------------------- app

const App = () => {
  const [me, setMe] = useState<Me | undefined>(undefined)
  const [err, setErr] = useState<string | undefined>(undefined)
  useEffect(() => void loadMe().then(setMe, (e: Error) => setErr(e.message)), [])
  const { path, query } = useRoute()
  if (err) return html`<p class="error">${err}</p>`
  if (!me) return html`<p>Loading…</p>`
  const nav = (href: string, label: string, active: boolean) => html`<a class=${active ? "active" : ""} href=${href}>${label}</a>`
  const detail = /^\/jobs\/([^/]+)$/.exec(path)
  return html`
    <header>
      <h1>jobtrack</h1>
      <nav>${nav("#/", "Overview", path === "/")}${nav("#/jobs", "Jobs", path.startsWith("/jobs"))}${nav("#/schedules", "Schedules", path === "/schedules")}${nav("#/audit", "Audit", path === "/audit")}</nav>
      <${LiveStatus} />
      <span class="me">${me.actor}${me.actions.length === 0 ? html` <span class="badge">read-only</span>` : null}</span>
    </header>
    <main>
      ${path === "/" ? html`<${Overview} />`
        : path === "/jobs" ? html`<${JobsList} me=${me} query=${query} />`
        : detail ? html`<${Detail} me=${me} id=${decodeURIComponent(detail[1]!)} />`
        : path === "/schedules" ? html`<${Schedules} me=${me} />`
        : path === "/audit" ? html`<${Audit} />`
        : html`<p>Not found.</p>`}
    </main>`
}

render(html`<${App} />`, document.getElementById("app")!)
