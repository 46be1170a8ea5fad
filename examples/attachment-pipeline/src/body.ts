/**
 * JSON request bodies through @koa/bodyparser (co-body and raw-body underneath): the
 * bytes are decoded as UTF-8 as a whole, so a character split across network chunks
 * survives, and at most `limit` bytes are read. A body over the limit is answered 413
 * only once the rest of it has been read and discarded, so a client still sending gets
 * the answer rather than a reset connection. A compressed body (Content-Encoding gzip,
 * deflate or br) counts against the limit once decompressed, so a small bomb is a 413 too;
 * one that cannot be decoded (not the gzip it claims to be, truncated) is a 400, never a
 * 500, and an unknown coding a 415: the answers of the jobs API (`BodyReader.failure`).
 */
import { bodyParser } from "@koa/bodyparser"
import { BodyReader } from "@jobtrack/adapter-koa"
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
      // the jobs API's own answers (BodyReader): a body that cannot be decoded is a 400, a
      // bomb 413, an unknown Content-Encoding 415; undefined: the server's fault (a 500)
      const answer = BodyReader.failure(e, limit)
      if (answer === undefined) throw e
      const { code, message } = (answer.body as { error: { code: string; message: string } }).error
      throw new HttpError(answer.status, code, message)
    }
    return ctx.request.body
  }
}
