// The console's calls to its own API (relative URLs: the page is served at the mount point).
export interface Me {
  readonly actor: string
  readonly actions: ReadonlyArray<string>
  readonly token: string
}

export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message)
  }
}

let me: Me | undefined

const parse = async (res: Response) => {
  const text = await res.text()
  const body = text ? JSON.parse(text) : undefined
  if (!res.ok) throw new ApiError(res.status, body?.error?.message ?? `HTTP ${res.status}`)
  return body
}

export const get = async (path: string, query: Record<string, string> = {}) => {
  const q = new URLSearchParams(Object.entries(query).filter(([, v]) => v !== ""))
  const res = await fetch(`api/${path}${q.size > 0 ? `?${q}` : ""}`, { headers: { accept: "application/json" } })
  return parse(res)
}

export const loadMe = async (): Promise<Me> => (me = await get("me"))

export const post = async (path: string, body: unknown) => {
  const res = await fetch(`api/${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-console-token": me?.token ?? "" },
    body: JSON.stringify(body)
  })
  return parse(res)
}

/**
 * Live changes: `onChange` is called once subscribed ("ready": re-read, nothing
 * after it is missed), on every batch of changes, on a resync and on a tick.
 * EventSource reconnects by itself; each reconnection sends "ready" again.
 * While the tab is hidden the stream is closed (an open list keeps the
 * store's status feed open, docs/console.md); shown again,
 * it reopens and its "ready" re-reads.
 */
export const live = (onChange: () => void, job?: string): (() => void) => {
  let source: EventSource | undefined
  let timer: ReturnType<typeof setTimeout> | undefined
  const soon = () => {
    if (timer === undefined) timer = setTimeout(() => (timer = undefined, onChange()), 150)
  }
  const open = () => {
    source = new EventSource(`api/events${job ? `?job=${encodeURIComponent(job)}` : ""}`)
    for (const e of ["ready", "changes", "resync", "tick"]) source.addEventListener(e, soon)
  }
  const close = () => {
    source?.close()
    source = undefined
  }
  const onVisibility = () => (document.hidden ? close() : source === undefined && open())
  if (!document.hidden) open()
  document.addEventListener("visibilitychange", onVisibility)
  return () => {
    if (timer !== undefined) clearTimeout(timer)
    document.removeEventListener("visibilitychange", onVisibility)
    close()
  }
}
