/**
 * Multipart uploads through @koa/multer (multer, on busboy): the file streams to
 * disk under a random name — the client's name never reaches the file system —
 * and is cut off at `maxBytes` (413, the partial file removed, the rest of the
 * body drained so the client gets the answer). One file per request, few small
 * fields; a malformed body is a 400. Where the file lies stays on the server:
 * the attachment is known to clients as `upload://<id>/<name>`.
 */
import { randomUUID } from "node:crypto"
import { rm } from "node:fs/promises"
import { basename } from "node:path"
import multer from "@koa/multer"
import { Schema } from "effect"
import type { Context } from "koa"
import { HttpError } from "./http.ts"
import { text } from "./text.ts"

export interface StoredUpload {
  readonly file_url: string
  readonly filename: string
  /** Where the file lies on this server; never sent to clients. */
  readonly path: string
}

const FileName = text(255)

export const uploads = (options: { readonly dir: string; readonly maxBytes: number }) => {
  const single = multer({
    storage: multer.diskStorage({ destination: options.dir, filename: (_req, _file, cb) => cb(null, randomUUID()) }),
    limits: { fileSize: options.maxBytes, files: 1, fields: 4, parts: 5, fieldSize: 1024, fieldNameSize: 100, headerPairs: 20 },
    defParamCharset: "utf8"
  } as multer.Options).single("file")

  return async (ctx: Context): Promise<StoredUpload> => {
    try {
      await single(ctx, async () => {})
    } catch (e) {
      const code = (e as { code?: string }).code
      if (code === "LIMIT_FILE_SIZE") throw new HttpError(413, "payload_too_large", `the file exceeds ${options.maxBytes} bytes`)
      if (code?.startsWith("LIMIT_")) throw new HttpError(400, "invalid_input", `upload refused: ${(e as Error).message}`)
      throw new HttpError(400, "invalid_input", "malformed multipart body")
    }
    const file = (ctx as Context & { file?: { path: string; originalname: string } }).file
    if (!file) throw new HttpError(400, "invalid_input", "a multipart upload needs a `file` field")
    // browsers send a bare name; some clients send a path: keep its last segment
    const name = file.originalname.split(/[/\\]/).pop() ?? ""
    if (!Schema.is(FileName)(name)) {
      await rm(file.path, { force: true })
      throw new HttpError(400, "invalid_input", "the file name must be 1 to 255 characters of well-formed text without control characters")
    }
    return { file_url: `upload://${basename(file.path)}/${encodeURIComponent(name)}`, filename: name, path: file.path }
  }
}
