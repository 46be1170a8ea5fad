// The console's live updates: the server's change stream (`api/events`), read with fetch so
// the page sees a refusal's status and `Retry-After` (an EventSource gives up on any non-200
// answer, a 429 included, and never says why). One stream per job (or one for "every job")
// is shared by all the views that follow it, so the overview's three reads hold one
// connection, not three (a browser opens at most 6 per origin over HTTP/1.1: two overview
// tabs used to take all six, and every read of the console then waited forever).
//
// A stream that is refused, dropped, or silent for longer than three of its ticks is opened
// again: after `Retry-After` (plus up to a second, so the tabs a restart or a cap turned away
// do not all come back at once), otherwise after a backoff that doubles from about a second up
// to 30 s, with jitter. Meanwhile `status()` says so, for the page to show as text; on the
// next `ready` the views re-read. A hidden tab closes its streams (an open list keeps the
// store's status feed open, docs/console.md) and opens them again when shown.
import { createParser } from "eventsource-parser"

/** What the page shows about its live updates. */
export type LiveStatus =
  | { readonly state: "connecting" }
  | { readonly state: "live" }
  /** Not following changes: why, and when the next try is (`undefined`: trying now). */
  | { readonly state: "paused"; readonly reason: string; readonly retryAt: number | undefined }

interface Channel {
  readonly listeners: Set<() => void>
  status: LiveStatus
  readonly stop: () => void
}

const channels = new Map<string, Channel>()
const statusListeners = new Set<() => void>()
const statusChanged = () => {
  for (const l of statusListeners) l()
}
/** A 429's wait outlives the views that met it: a view opened meanwhile waits too. */
let refusedUntil = 0

/** The live status of the page's streams: a paused one first; none while no view follows changes. */
export const status = (): LiveStatus | undefined => {
  let out: LiveStatus | undefined
  for (const c of channels.values()) {
    if (c.status.state === "paused") return c.status
    if (out === undefined || c.status.state === "connecting") out = c.status
  }
  return out
}

/** Call `listener` whenever `status()` may have changed; returns the unsubscribe. */
export const onStatus = (listener: () => void): (() => void) => {
  statusListeners.add(listener)
  return () => void statusListeners.delete(listener)
}

/** Milliseconds `Retry-After` asks for (seconds or an HTTP date), 1 s to 5 min; 5 s if unreadable. */
export const retryAfterMs = (header: string | null, now = Date.now()): number => {
  const seconds = header !== null && /^\s*\d+\s*$/.test(header) ? Number(header) * 1000 : undefined
  const date = seconds === undefined && header !== null ? Date.parse(header) - now : undefined
  const ms = seconds ?? (date !== undefined && Number.isFinite(date) ? date : 5_000)
  return Math.min(300_000, Math.max(1_000, ms))
}

/** The n-th consecutive failure's wait: 1 s, 2 s, 4 s … up to 30 s, each between half and all of it. */
const backoffMs = (failures: number) => {
  const base = Math.min(30_000, 1_000 * 2 ** failures)
  return base / 2 + Math.random() * (base / 2)
}

const openChannel = (job: string | undefined): Channel => {
  const url = `api/events${job ? `?job=${encodeURIComponent(job)}` : ""}`
  let failures = 0
  let stopped = false
  let controller: AbortController | undefined
  let retry: ReturnType<typeof setTimeout> | undefined
  let watchdog: ReturnType<typeof setTimeout> | undefined
  /** Silence after which the stream is taken for dead: three ticks and 10 s, once `ready` said the tick; 30 s before. */
  let stallMs: number | undefined
  const channel: Channel = {
    listeners: new Set(),
    status: { state: "connecting" },
    stop: () => {
      stopped = true
      document.removeEventListener("visibilitychange", onVisibility)
      disconnect()
    }
  }
  const set = (status: LiveStatus) => {
    channel.status = status
    statusChanged()
  }
  const changed = () => {
    for (const l of channel.listeners) l()
  }
  const disconnect = () => {
    if (retry !== undefined) clearTimeout(retry)
    if (watchdog !== undefined) clearTimeout(watchdog)
    retry = watchdog = undefined
    controller?.abort()
    controller = undefined
  }
  const pause = (reason: string, waitMs: number) => {
    disconnect()
    set({ state: "paused", reason, retryAt: Date.now() + waitMs })
    retry = setTimeout(() => {
      retry = undefined
      void connect()
    }, waitMs)
  }
  const connect = async () => {
    if (stopped || document.hidden || controller !== undefined) return
    const wait = refusedUntil - Date.now()
    if (wait > 0) return pause("the server has too many live streams open", wait)
    if (channel.status.state === "paused") set({ ...channel.status, retryAt: undefined })
    const mine = (controller = new AbortController())
    /** Why this connection was ended on purpose (a stall), if it was. */
    let ended: string | undefined
    /** When this connection said `ready`: the backoff starts over only once a stream stayed up. */
    let readyAt: number | undefined
    const arm = () => {
      if (watchdog !== undefined) clearTimeout(watchdog)
      // before `ready` too: a proxy that holds the headers or buffers the stream is a stall
      const ms = stallMs ?? 30_000
      watchdog = setTimeout(() => {
        ended = `no word from the server for ${Math.round(ms / 1000)} s`
        mine.abort()
      }, ms)
    }
    const lost = (reason: string) => {
      if (controller !== mine) return // closed (hidden, stopped) or replaced meanwhile
      controller = undefined
      // a server that says `ready` and hangs up at once keeps backing off, not a reconnect a second
      if (readyAt !== undefined && Date.now() - readyAt >= 10_000) failures = 0
      pause(ended ?? reason, backoffMs(failures++))
    }
    let res: Response
    arm()
    try {
      res = await fetch(url, { headers: { accept: "text/event-stream" }, cache: "no-store", signal: mine.signal })
    } catch {
      return lost("the server cannot be reached")
    }
    if (res.status === 429) {
      void res.body?.cancel().catch(() => {})
      if (controller !== mine) return
      controller = undefined
      const waitMs = retryAfterMs(res.headers.get("retry-after")) + Math.random() * 1_000
      refusedUntil = Math.max(refusedUntil, Date.now() + waitMs)
      return pause("the server has too many live streams open", waitMs)
    }
    if (res.status !== 200 || res.body === null) {
      void res.body?.cancel().catch(() => {})
      return lost(`the server answered HTTP ${res.status}`)
    }
    const parser = createParser({
      onEvent: (event) => {
        if (event.event === "ready") {
          readyAt = Date.now()
          try {
            const tick = Number((JSON.parse(event.data) as { tick_ms?: unknown }).tick_ms)
            stallMs = Number.isFinite(tick) && tick > 0 ? 3 * tick + 10_000 : undefined
          } catch {
            stallMs = undefined
          }
          set({ state: "live" })
        }
        changed()
      }
    })
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
    try {
      while (true) {
        arm()
        const { done, value } = await reader.read()
        if (done) break
        parser.feed(value)
      }
    } catch {
      // aborted, or the connection failed
    }
    lost("the connection was lost")
  }
  const onVisibility = () => {
    if (document.hidden) {
      // a wait in progress is kept: shown again, the page tries when it ends
      const status = channel.status
      disconnect()
      if (status.state !== "paused" || status.retryAt === undefined) set({ state: "connecting" })
      else set(status)
    } else if (retry === undefined) {
      const status = channel.status
      if (status.state === "paused" && status.retryAt !== undefined && status.retryAt > Date.now()) {
        pause(status.reason, status.retryAt - Date.now())
      } else void connect()
    }
  }
  document.addEventListener("visibilitychange", onVisibility)
  void connect()
  return channel
}

/**
 * Follow the store's changes (of one job, or of every job): `onChange` is called when the
 * stream is ready (re-read: nothing after it is missed), on every batch of changes, on a
 * resync and on a tick, at most once per 150 ms. Returns the unsubscribe.
 */
export const live = (onChange: () => void, job?: string): (() => void) => {
  const key = job ?? ""
  let channel = channels.get(key)
  if (channel === undefined) {
    channel = openChannel(job)
    channels.set(key, channel)
    statusChanged()
  }
  let timer: ReturnType<typeof setTimeout> | undefined
  const soon = () => {
    if (timer === undefined) timer = setTimeout(() => (timer = undefined, onChange()), 150)
  }
  const mine = channel
  mine.listeners.add(soon)
  return () => {
    if (timer !== undefined) clearTimeout(timer)
    mine.listeners.delete(soon)
    if (mine.listeners.size === 0) {
      mine.stop()
      channels.delete(key)
      statusChanged()
    }
  }
}
