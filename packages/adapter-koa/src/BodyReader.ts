/**
 * Reading a JSON request body, and answering its failures by the HTTP
 * contract: one place for the jobs API and the console's action routes (and
 * for a host's own routes that want the same answers).
 *
 * - over the size limit (also after decompression: a gzip bomb): **413** `payload_too_large`
 * - a `Content-Encoding` that cannot be read (gzip, deflate and br are, in
 *   lower case): **415** `unsupported_media_type`; a body that is not UTF-8
 *   is not JSON: 400
 * - a body that cannot be decoded (malformed or truncated gzip, deflate or
 *   brotli): **400** `invalid_input`, "the body could not be decoded"
 * - not JSON, or anything else the client sent wrong: **400** `invalid_input`
 *
 * Never the parser's message, which may quote the body.
 *
 * @since 0.5.0
 */
import type { bodyParser } from "@koa/bodyparser"
import type { Context } from "koa"
import { error } from "./HttpError.js"
import type { HttpResponse } from "./HttpError.js"

/** zlib's failures (gzip, deflate: `Z_*`; brotli: `ERR__ERROR_*`, `ERR_BROTLI_*`) carry no HTTP status. */
const isDecodingError = (e: object): boolean => {
  const { code, errno } = e as { code?: unknown; errno?: unknown }
  return typeof code === "string" && typeof errno === "number" && /^(Z_|ERR__ERROR_|ERR_BROTLI|ERR_ZLIB)/.test(code)
}

/**
 * The contract's answer to a failure of reading a body with
 * `@koa/bodyparser` (co-body, raw-body and inflation underneath), or
 * `undefined` when the failure is not the client's (e.g. another middleware
 * consumed the request stream): answer that as an internal error.
 *
 * @example
 * ```ts
 * import { BodyReader } from "@jobtrack/adapter-koa"
 *
 * try {
 *   await parse(ctx, async () => {})
 * } catch (e) {
 *   const answer = BodyReader.failure(e, 64 * 1024)
 *   if (answer === undefined) throw e
 *   ctx.status = answer.status
 *   ctx.body = answer.body
 * }
 * ```
 * @since 0.5.0
 * @category errors
 */
export const failure = (e: unknown, limit: number): HttpResponse | undefined => {
  if (typeof e !== "object" || e === null) return undefined
  if (isDecodingError(e)) return error(400, "invalid_input", "the body could not be decoded")
  const status = "status" in e ? Number(e.status) : NaN
  if (status === 413) return error(413, "payload_too_large", `body exceeds ${limit} bytes`)
  if (status === 415) return error(415, "unsupported_media_type", "unsupported body encoding or charset")
  if (status >= 400 && status < 500) {
    return error(400, "invalid_input", e instanceof SyntaxError ? "body is not valid JSON" : "the body could not be read")
  }
  return undefined
}

/**
 * A reader of JSON bodies of at most `limit` bytes (after decompression):
 * the value, or the response to answer with (see {@link failure}). A body a
 * parser mounted by the host already left in `ctx.request.body` is taken as
 * it is. `@koa/bodyparser` is loaded with the first body read; `__proto__`
 * keys are refused.
 *
 * @example
 * ```ts
 * import { BodyReader } from "@jobtrack/adapter-koa"
 *
 * const readBody = BodyReader.make(64 * 1024)
 * router.post("/import", async (ctx) => {
 *   const body = await readBody(ctx)
 *   if (!("value" in body)) {
 *     ctx.status = body.status
 *     ctx.body = body.body
 *     return
 *   }
 *   // body.value: the parsed JSON
 * })
 * ```
 * @since 0.5.0
 * @category constructors
 */
export const make = (limit: number) => {
  // loaded with the first body read, not with the package (issue 13, item 6: ~90 files)
  let parse: ReturnType<typeof bodyParser> | undefined
  return async (ctx: Context): Promise<{ readonly value: unknown } | HttpResponse> => {
    const preParsed = (ctx.request as { body?: unknown }).body
    if (preParsed !== undefined) return { value: preParsed }
    if (!ctx.request.is("application/json", "+json")) {
      return error(400, "invalid_input", "Content-Type must be application/json")
    }
    parse ??= (await import("@koa/bodyparser")).bodyParser({ enableTypes: ["json"], jsonLimit: limit, jsonStrict: false, detectJSON: () => true })
    try {
      await parse(ctx, async () => {})
    } catch (e) {
      const answer = failure(e, limit)
      if (answer !== undefined) return answer
      // e.g. another middleware consumed the request stream without leaving a body
      console.error("jobtrack: reading the request body failed", e)
      return error(500, "internal", "internal error")
    }
    return { value: (ctx.request as { body?: unknown }).body }
  }
}
