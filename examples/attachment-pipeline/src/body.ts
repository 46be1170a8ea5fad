/**
 * JSON request bodies through @koa/bodyparser (co-body and raw-body underneath): the
 * bytes are decoded as UTF-8 as a whole, so a character split across network chunks
 * survives, and at most `limit` bytes are read. A body over the limit is answered 413
 * only once the rest of it has been read and discarded, so a client still sending gets
 * the answer rather than a reset connection. A compressed body (Content-Encoding gzip,
 * deflate or br) counts against the limit once decompressed, so a small bomb is a 413 too;
 * one that cannot be decoded (not the gzip it claims to be, truncated, an unknown coding)
 * is a 400, never a 500: every failure of the body parser is about the body the client sent.
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
      // what is left of the body is read and thrown away, so the client gets the answer
      await drain(ctx.req)
      const status = (e as { status?: number }).status
      if (status === 413) throw new HttpError(413, "payload_too_large", `body exceeds ${limit} bytes`)
      if (status !== undefined && status >= 500) throw e // the server's fault (the body read twice), not the client's
      // zlib's errors (a body that is not the gzip it claims to be) carry no status
      throw new HttpError(400, "invalid_input", status === undefined ? "body could not be decoded" : "body is not a valid JSON object")
    }
    return ctx.request.body
  }
}
