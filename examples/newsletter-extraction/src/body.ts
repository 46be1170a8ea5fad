/**
 * JSON request bodies through the library's `BodyReader` (the reader of the jobs API):
 * the bytes are decoded as UTF-8 as a whole, so a character split across network chunks
 * survives, and at most `limit` bytes are read. A compressed body (Content-Encoding gzip,
 * deflate or br) counts against the limit once decompressed, so a small bomb is a 413 too;
 * one that cannot be decoded (not the gzip it claims to be, truncated) is a 400, never a
 * 500, and an unknown coding a 415. After a failure the rest of the body is read and
 * thrown away while the answer goes out, so a client still sending gets it rather than a
 * reset connection; a truncated or abandoned compressed body never ends the process.
 */
import { BodyReader } from "@jobtrack/adapter-koa"
import type { Context } from "koa"

/** The body cannot be used: `status` and `code` say how to answer. */
export class BodyError extends Error {
  readonly status: number
  readonly code: string
  constructor(status: number, message: string, code = status === 413 ? "payload_too_large" : "invalid_input") {
    super(message)
    this.status = status
    this.code = code
  }
}

/** A reader of JSON bodies of at most `limit` bytes; fails with {@link BodyError}. */
export const jsonBody = (limit = 64 * 1024) => {
  const read = BodyReader.make(limit)
  return async (ctx: Context): Promise<unknown> => {
    if (!ctx.is("application/json")) throw new BodyError(400, "send Content-Type: application/json")
    const body = await read(ctx)
    if ("value" in body) return body.value
    // the jobs API's own answers: 400, 413, 415, or a 500 the reader logged
    const { code, message } = (body.body as { error: { code: string; message: string } }).error
    throw new BodyError(body.status, message, code)
  }
}
