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
 * The bytes are counted by `raw-body` (as Koa's and Express's parsers do) and
 * parsed by `@hapi/bourne` (JSON.parse that refuses `__proto__` keys); the
 * decompression is node:zlib piped here rather than by a parser
 * (`@koa/bodyparser` through `inflation`, until this was found): once a body failed
 * (over the limit, or the client left), nothing there listened to its unzip
 * stream any more, which then failed ("unexpected end of file") with nobody
 * listening and ended the host's process. Here the decoder keeps a listener
 * for its whole life, and a failed read unpipes it, destroys it and reads off
 * the rest of the request, so the answer reaches a client still sending.
 *
 * @since 0.2.0
 */
import { createBrotliDecompress, createUnzip } from "node:zlib"
import type { Transform } from "node:stream"
import type { Context } from "koa"
import { error } from "./HttpError.js"
import type { HttpResponse } from "./HttpError.js"

/** zlib's failures (gzip, deflate: `Z_*`; brotli: `ERR__ERROR_*`, `ERR_BROTLI_*`) carry no HTTP status. */
const isDecodingError = (e: object): boolean => {
  const { code, errno } = e as { code?: unknown; errno?: unknown }
  return typeof code === "string" && typeof errno === "number" && /^(Z_|ERR__ERROR_|ERR_BROTLI|ERR_ZLIB)/.test(code)
}

/** The decoders of the codings read (names as sent, in lower case); `identity` needs none. */
const decoders: Readonly<Record<string, () => Transform>> = {
  gzip: createUnzip,
  deflate: createUnzip,
  br: createBrotliDecompress
}

/** What a failed read left: the decoder unpiped and destroyed, the rest of the body read off. */
const discard = (req: Context["req"], decoder: Transform | undefined) => {
  if (decoder !== undefined) {
    req.unpipe(decoder)
    decoder.destroy()
  }
  if (!req.readableEnded && !req.destroyed) req.resume()
}

/** A client that leaves mid-body: raw-body, reading the decoder, learns it as an error (a 400). */
const aborted = () =>
  Object.assign(new Error("request aborted"), { status: 400, type: "request.aborted", code: "ECONNABORTED" })

/**
 * The contract's answer to a failure of reading a body — this module's own,
 * or a host's parser's (`@koa/bodyparser`, co-body, raw-body: errors with a
 * `status`, zlib's errors, a JSON `SyntaxError`) — or `undefined` when the
 * failure is not the client's (e.g. another middleware consumed the request
 * stream): answer that as an internal error.
 *
 * @example
 * ```ts
 * import { bodyParser } from "@koa/bodyparser"   // the host's own parser
 * import { BodyReader } from "@jobtrack/adapter-koa"
 *
 * const parse = bodyParser({ jsonLimit: 64 * 1024 })
 * try {
 *   await parse(ctx, async () => {})
 * } catch (e) {
 *   const answer = BodyReader.failure(e, 64 * 1024)
 *   if (answer === undefined) throw e
 *   ctx.status = answer.status
 *   ctx.body = answer.body
 * }
 * ```
 * @since 0.2.0
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
 * it is. Any JSON value is read (an empty body is `""`); `__proto__` keys are
 * refused. A failed read leaves the request read off in the background, so
 * the answer can be sent at once. `raw-body` and `@hapi/bourne` are loaded
 * with the first body read.
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
 * @since 0.2.0
 * @category constructors
 */
const utf8 = new TextDecoder("utf-8", { fatal: true })

export const make = (limit: number) => {
  // loaded with the first body read, not with the package (issue 13, item 6)
  let parsers: Promise<{ readonly raw: typeof import("raw-body"); readonly bourne: typeof import("@hapi/bourne") }> | undefined
  return async (ctx: Context): Promise<{ readonly value: unknown } | HttpResponse> => {
    const preParsed = (ctx.request as { body?: unknown }).body
    if (preParsed !== undefined) return { value: preParsed }
    if (!ctx.request.is("application/json", "+json")) {
      return error(400, "invalid_input", "Content-Type must be application/json")
    }
    const req = ctx.req
    // content-codings are case-insensitive (RFC 9110, 8.4.1)
    const coding = (req.headers["content-encoding"] ?? "identity").trim().toLowerCase()
    const decode = coding === "identity" ? undefined : Object.hasOwn(decoders, coding) ? decoders[coding] : null
    if (decode === null) {
      discard(req, undefined)
      return error(415, "unsupported_media_type", "unsupported body encoding or charset")
    }
    parsers ??= Promise.all([import("raw-body"), import("@hapi/bourne")]).then(([raw, bourne]) => ({
      raw: raw.default,
      bourne: bourne.default
    }))
    const { bourne, raw } = await parsers
    let decoder: Transform | undefined
    if (decode !== undefined) {
      decoder = decode()
      // for the decoder's whole life: zlib may still fail (e.g. "unexpected end of file")
      // after raw-body stopped listening; raw-body's own listener reports it while it reads
      decoder.on("error", () => {})
      const ongoing = decoder
      req.once("close", () => {
        if (!req.complete) ongoing.destroy(aborted())
      })
      req.pipe(decoder)
    }
    let bytes: Buffer
    try {
      bytes = await raw(decoder ?? req, {
        limit,
        // the declared length is that of the encoded bytes: checked only when they are the body
        length: decoder === undefined ? req.headers["content-length"] ?? null : null
      })
    } catch (e) {
      discard(req, decoder)
      return answer(e, limit)
    }
    try {
      // JSON is UTF-8 (RFC 8259): a body that is not is refused, not read with U+FFFD in it
      const text = utf8.decode(bytes)
      return { value: text === "" ? text : bourne.parse(text, { protoAction: "error" }) }
    } catch {
      // the decoder's TypeError, JSON.parse's SyntaxError, or bourne's for a `__proto__` key
      return error(400, "invalid_input", "body is not valid JSON")
    }
  }
}

const answer = (e: unknown, limit: number): HttpResponse => {
  const known = failure(e, limit)
  if (known !== undefined) return known
  // e.g. another middleware consumed the request stream without leaving a body
  console.error("jobtrack: reading the request body failed", e)
  return error(500, "internal", "internal error")
}
