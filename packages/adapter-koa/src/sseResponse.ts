/**
 * Taking over a Koa response for Server-Sent Events: Koa steps aside, the
 * socket never times out and sends each event at once, the headers tell
 * proxies not to buffer, and the client is told how soon to reconnect.
 * Shared by the jobs router's event streams and the console's change stream.
 *
 * @internal
 */
import type { ServerResponse } from "node:http"
import type { Context } from "koa"

/** Start an SSE response on `ctx` and return the raw response to write events to. */
export const open = (ctx: Context, retryMs: number): ServerResponse => {
  const { req, res } = ctx
  ctx.respond = false
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
