/**
 * Taking over a Koa response for Server-Sent Events: Koa steps aside, the
 * socket never times out and sends each event at once, the headers tell
 * proxies not to buffer, and the client is told how soon to reconnect.
 * Shared by the jobs router's event streams and the console's change stream.
 *
 * @internal
 */
import type { ServerResponse } from "node:http"
import type { Socket } from "node:net"
import type { Context } from "koa"
import { encode } from "./EventStream.js"
import type { Frame } from "./EventStream.js"

/**
 * Start an SSE response on `ctx` and return the raw response to write events
 * to; `undefined` when the client is gone already. It can leave while a
 * handler awaits (the caller, the store, the job's read) before its stream
 * starts, and then the response's `close` has fired before anyone listens
 * for it: a stream begun then would never end (the leak of a fanout member,
 * a watch and a heartbeat until its job ends), so none is begun.
 */
export const open = (ctx: Context, retryMs: number): ServerResponse | undefined => {
  const { req, res } = ctx
  ctx.respond = false
  if (res.destroyed || res.writableEnded || req.socket.destroyed) return undefined
  req.socket.setTimeout(0)
  req.socket.setNoDelay(true)
  res.writeHead(200, {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-cache, no-transform",
    Connection: "keep-alive",
    "X-Accel-Buffering": "no"
  })
  res.write(`retry: ${retryMs}\n\n`)
  return res
}

/** Per frame: its text as one HTTP/1.1 chunk, made once for every stream it is written to. */
const chunks = new WeakMap<Frame, Buffer>()

/**
 * Write one event to a response that `open` started. The streams of a job
 * get the same frame: over HTTP/1.1 with chunked encoding (what `open` gives
 * a 1.1 client) its bytes, framed as one chunk, are made once and written
 * straight to the connection, so each stream costs one socket write (no
 * string encoding, chunk framing or cork per stream: about a quarter of the
 * server's CPU per change at 500 streams). Anything else (an HTTP/1.0
 * client, another server, a response not yet on its connection) goes
 * through `res.write`.
 */
export const writeFrame = (res: ServerResponse, frame: Frame): void => {
  const socket = res.socket as (Socket & { readonly _httpMessage?: unknown }) | null
  if (
    socket !== null && socket._httpMessage === res && res.chunkedEncoding && res.headersSent &&
    !res.writableEnded && !socket.destroyed
  ) {
    let chunk = chunks.get(frame)
    if (chunk === undefined) {
      const text = Buffer.from(encode(frame))
      chunk = Buffer.concat([Buffer.from(`${text.length.toString(16)}\r\n`), text, crlf])
      chunks.set(frame, chunk)
    }
    socket.write(chunk)
  } else {
    res.write(encode(frame))
  }
}

const crlf = Buffer.from("\r\n")
