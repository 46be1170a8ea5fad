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
