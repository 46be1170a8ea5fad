/**
 * JSON request bodies through @koa/bodyparser (co-body and raw-body underneath): the
 * bytes are decoded as UTF-8 as a whole, so a character split across network chunks
 * survives, and at most `limit` bytes are read. A body over the limit is answered 413
 * only once the rest of it has been read and discarded, so a client still sending gets
 * the answer rather than a reset connection.
 */
import { bodyParser } from "@koa/bodyparser"
import type { Context } from "koa"
import { drain, HttpError } from "./http.ts"

export const jsonBody = (limit = 64 * 1024) => {
  const parse = bodyParser({ enableTypes: ["json"], jsonLimit: limit, encoding: "utf-8" })
  return async (ctx: Context): Promise<unknown> => {
    if (!ctx.is("application/json")) throw new HttpError(400, "invalid_input", "send Content-Type: application/json")
    try {
      await parse(ctx, async () => {})
    } catch (e) {
      const status = (e as { status?: number }).status
      if (status === 413) {
        await drain(ctx.req)
        throw new HttpError(413, "payload_too_large", `body exceeds ${limit} bytes`)
      }
      if (status !== undefined && status >= 400 && status < 500) {
        throw new HttpError(400, "invalid_input", "body is not a valid JSON object")
      }
      throw e
    }
    return ctx.request.body
  }
}
