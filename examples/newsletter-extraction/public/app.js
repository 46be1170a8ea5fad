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

const render = (id) => {
  const v = views.get(id)
  let card = document.getElementById(`x-${id}`)
  if (!card) {
    card = document.createElement("div")
    card.id = `x-${id}`
    card.className = "card"
    const list = $("#list")
    list.insertBefore(card, list.firstChild)
  }
  card.className = `card ${v.status}`
  card.dataset.status = v.status
  const waiting = v.status === "pending" && v.queue_position ? `Queue position ${v.queue_position}` : ""
  const links = v.result?.newsletters?.reduce((n, x) => n + x.links.length, 0) ?? 0
  card.innerHTML = `
    <div class="head">
      <div><span class="badge ${v.status}" data-role="status">${v.status}</span>
        <span class="muted">${new Date(v.created_at).toLocaleTimeString()} · ${v.attempts}/${v.max_attempts} attempts</span></div>
      <div class="actions">
        ${terminal(v.status) ? "" : `<button class="secondary" data-role="cancel">Cancel</button>`}
        ${v.status === "failed" || v.status === "cancelled" ? `<button class="secondary" data-role="retry">Retry</button>` : ""}
      </div>
    </div>
    <div class="bar"><div data-role="bar" style="width:${v.progress}%"></div></div>
    <div class="meta">
      <span data-role="progress">${Math.round(v.progress)}%</span>
      <span data-role="message">${v.status === "completed" ? "Extraction complete" : v.progress_message ?? (v.status === "pending" ? "Queued for extraction" : "")}</span>
      <span data-role="queue">${waiting}</span>
      <span data-role="elapsed">${elapsed(v)}</span>
    </div>
    ${v.error_message && v.status !== "completed" ? `<div class="error" data-role="error">${v.error_message}</div>` : ""}
    ${v.status === "completed" ? `<div class="results" data-role="results"><b>${v.result.newsletters.length} newsletters, ${links} links</b>
      <ul>${v.result.newsletters.slice(0, 5).map((n) => `<li>${n.subject} <span class="muted">— ${n.sender}</span></li>`).join("")}</ul></div>` : ""}`
  const cancel = card.querySelector("[data-role=cancel]")
  if (cancel) cancel.onclick = () => api(`/api/jobs/${id}/cancel`, { method: "POST" }).then(update)
  const retry = card.querySelector("[data-role=retry]")
  if (retry) retry.onclick = () => api(`/api/jobs/${id}/retry`, { method: "POST" }).then((v) => { update(v); follow(id) })
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
for (const v of [...page.items].reverse()) {
  update(v)
  if (!terminal(v.status)) follow(v.extraction_id)
}
