/**
 * JSON request bodies through @koa/bodyparser (co-body and raw-body underneath): the
 * bytes are decoded as UTF-8 as a whole, so a character split across network chunks
 * survives, and at most `limit` bytes are read. A body over the limit is answered 413
 * only once the rest of it has been read and discarded, so a client still sending gets
 * the answer rather than a reset connection.
 */
import { bodyParser } from "@koa/bodyparser"
import type { Context } from "koa"

/** The body cannot be used: `status` and `code` say how to answer. */
export class BodyError extends Error {
  readonly status: 400 | 413
  readonly code: "invalid_input" | "payload_too_large"
  constructor(status: 400 | 413, message: string) {
    super(message)
    this.status = status
    this.code = status === 413 ? "payload_too_large" : "invalid_input"
  }
}

const drain = (req: Context["req"]) =>
  new Promise<void>((resolve) => {
    if (req.readableEnded || req.destroyed) return resolve()
    req.once("end", () => resolve())
    req.once("close", () => resolve())
    req.once("error", () => resolve())
    req.resume()
  })

/** A reader of JSON object bodies of at most `limit` bytes; fails with {@link BodyError}. */
export const jsonBody = (limit = 64 * 1024) => {
  const parse = bodyParser({ enableTypes: ["json"], jsonLimit: limit, encoding: "utf-8" })
  return async (ctx: Context): Promise<unknown> => {
    if (!ctx.is("application/json")) throw new BodyError(400, "send Content-Type: application/json")
    try {
      await parse(ctx, async () => {})
    } catch (e) {
      const status = (e as { status?: number }).status
      if (status === 413) {
        await drain(ctx.req)
        throw new BodyError(413, `body exceeds ${limit} bytes`)
      }
      if (status !== undefined && status >= 400 && status < 500) throw new BodyError(400, "body is not a valid JSON object")
      throw e
    }
    return ctx.request.body
  }
}
