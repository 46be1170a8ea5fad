// The page follows every unfinished extraction over Server-Sent Events, and falls back to
// polling when the stream fails. Reloading resumes: the list comes from the server.
const $ = (s, el = document) => el.querySelector(s)
const views = new Map() // extraction_id -> latest view
const streams = new Map() // extraction_id -> EventSource or interval id
const terminal = (s) => s === "completed" || s === "failed" || s === "cancelled"

let user = localStorage.getItem("demo_user") || "ann"
const signIn = (name) => {
  user = name
  localStorage.setItem("demo_user", name)
  document.cookie = `demo_user=${encodeURIComponent(name)}; path=/; SameSite=Strict`
  $("#who").textContent = name
}
signIn(user)
$("#switch").onclick = (e) => {
  e.preventDefault()
  const name = prompt("Demo user name", user)
  if (name) { signIn(name); location.reload() }
}

const api = async (path, init = {}) => {
  const res = await fetch(path, { ...init, headers: { authorization: `Bearer ${user}`, "content-type": "application/json", ...init.headers } })
  const body = res.status === 204 ? null : await res.json()
  if (!res.ok) throw Object.assign(new Error(body?.error?.message ?? res.statusText), { body })
  return body
}

const elapsed = (v) => {
  const end = v.completed_at ? Date.parse(v.completed_at) : Date.now()
  const s = Math.max(0, Math.round((end - Date.parse(v.started_at ?? v.created_at)) / 1000))
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m ${s % 60}s`
}

/**
 * Build an element: `h("span", { class: "muted" }, "text", child…)`. Strings always become
 * text nodes (never HTML), so subjects, senders, progress and error messages from users
 * and jobs are shown as the text they are.
 */
const h = (tag, attrs = {}, ...children) => {
  const el = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue
    if (k === "class") el.className = v
    // through the CSSOM: the page's CSP (style-src 'self') refuses style attributes
    else if (k === "style") el.style.cssText = v
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v)
    else el.setAttribute(k, String(v))
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c))
  return el
}

/** What the card says under the bar: the live step only while the job is live. */
const stepText = (v) => {
  switch (v.status) {
    case "completed": return "Extraction complete"
    case "failed": return "Extraction failed"
    case "cancelled": return `Cancelled at ${Math.round(v.progress)}%`
    case "retrying": return "Retrying after an error"
    case "pending": return v.attempts > 0 ? "Waiting to resume" : "Queued for extraction"
    default: return v.progress_message ?? "Starting…"
  }
}

/** One durable step of the job, as text: its status, and its tries once there was more than one. */
const stepStatus = (st) => st.attempts > 1 ? `${st.status} (${st.attempts} tries)` : st.status

/** Attempts matter to the user only once something went wrong; the retry budget is never shown. */
const attemptsText = (v) => {
  if (v.status === "failed") return v.attempts > 1 ? `failed ${v.attempts} times` : ""
  if ((v.status === "processing" || v.status === "retrying") && v.attempts > 1) return `attempt ${v.attempts}`
  return ""
}

const render = (id) => {
  const v = views.get(id)
  let card = document.getElementById(`x-${id}`)
  if (!card) {
    card = h("div", { id: `x-${id}` })
    const list = $("#list")
    list.insertBefore(card, list.firstChild)
  }
  $("#empty").hidden = true
  card.className = `card ${v.status}`
  card.dataset.status = v.status
  // past 1,000 places the position is a bound: "more than 1,000"
  const place = v.queue_position_capped ? `more than ${(v.queue_position - 1).toLocaleString("en")}` : String(v.queue_position)
  const waiting = v.status === "pending" && v.queue_position ? `Queue position ${place}` : ""
  const newsletters = v.status === "completed" ? v.result?.newsletters ?? [] : []
  const links = newsletters.reduce((n, x) => n + x.links.length, 0)
  const attempts = attemptsText(v)
  card.replaceChildren(...[
    h("div", { class: "head" },
      h("div", {},
        h("span", { class: `badge ${v.status}`, "data-role": "status" }, v.status), " ",
        h("span", { class: "muted", "data-role": "when" }, new Date(v.created_at).toLocaleTimeString(), attempts ? ` · ${attempts}` : "")),
      h("div", { class: "actions" },
        terminal(v.status) ? null : h("button", {
          class: "secondary", "data-role": "cancel",
          onclick: () => api(`/api/jobs/${id}/cancel`, { method: "POST" }).then(update)
        }, "Cancel"),
        v.status === "failed" || v.status === "cancelled" ? h("button", {
          class: "secondary", "data-role": "retry",
          onclick: () => api(`/api/jobs/${id}/retry`, { method: "POST" }).then((nv) => { update(nv); follow(id) })
        }, "Retry") : null)),
    h("div", { class: "bar" }, h("div", { "data-role": "bar", style: `width:${Number(v.progress) || 0}%` })),
    h("div", { class: "meta" },
      h("span", { "data-role": "progress" }, `${Math.round(v.progress)}%`),
      h("span", { "data-role": "message" }, stepText(v)),
      h("span", { "data-role": "queue" }, waiting),
      h("span", { "data-role": "elapsed" }, elapsed(v))),
    v.steps?.length
      ? h("ol", { class: "steps", "data-role": "steps" },
        v.steps.map((st) => h("li", { "data-step": st.name, "data-status": st.status, class: `step ${st.status}` },
          `${st.name}: ${stepStatus(st)}`)))
      : null,
    v.error_message && (v.status === "failed" || v.status === "retrying")
      ? h("div", { class: "error", "data-role": "error" }, v.error_message)
      : null,
    v.status === "completed"
      ? h("div", { class: "results", "data-role": "results" },
        h("b", {}, `${newsletters.length} newsletters, ${links} links`),
        h("ul", {}, newsletters.slice(0, 5).map((n) => h("li", {}, n.subject, " ", h("span", { class: "muted" }, `— ${n.sender}`)))))
      : null
  ].filter(Boolean))
}

const update = (v) => {
  views.set(v.extraction_id, v)
  render(v.extraction_id)
  if (terminal(v.status)) stop(v.extraction_id)
}

const stop = (id) => {
  const s = streams.get(id)
  if (s instanceof EventSource) s.close()
  else if (s) clearInterval(s)
  streams.delete(id)
}

const poll = (id) => {
  stop(id)
  streams.set(id, setInterval(() => api(`/api/jobs/${id}`).then(update).catch(() => {}), 2000))
}

const follow = (id) => {
  stop(id)
  const es = new EventSource(`/api/jobs/${id}/events`)
  es.addEventListener("job", (e) => update(JSON.parse(e.data)))
  es.onerror = () => {
    // closed after the terminal view, or the stream failed: poll until terminal
    if (!terminal(views.get(id)?.status)) poll(id)
    else stop(id)
  }
  streams.set(id, es)
}

$("#extract").onsubmit = async (e) => {
  e.preventDefault()
  $("#form-error").textContent = ""
  const f = new FormData(e.target)
  const senders = String(f.get("senders") || "").split(",").map((s) => s.trim()).filter(Boolean)
  try {
    const res = await api("/api/newsletters/extract", {
      method: "POST",
      body: JSON.stringify({ hours_back: Number(f.get("hours_back")), max_results: Number(f.get("max_results")), ...(senders.length ? { senders } : {}) })
    })
    update(await api(`/api/jobs/${res.extraction_id}`))
    follow(res.extraction_id)
  } catch (err) {
    $("#form-error").textContent = err.message
  }
}

setInterval(() => { for (const id of streams.keys()) render(id) }, 1000) // elapsed time

const page = await api("/api/jobs?type=newsletter-extract&limit=20")
$("#empty").hidden = page.items.length > 0
for (const v of [...page.items].reverse()) {
  update(v)
  if (!terminal(v.status)) follow(v.extraction_id)
}
