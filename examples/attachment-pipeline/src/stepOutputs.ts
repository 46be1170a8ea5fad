/**
 * What the extraction's durable steps keep, and how a job started by the previous version
 * of this example reads. Before 523a9f8 the steps stored the whole file ("download": a
 * string), the whole text ("extract": a string) and `{ text, characters, pages }` ("store").
 * A job that version left half done (a 503, a deploy during its attempt) is retried by this
 * one, and a completed step is never run again: its stored output comes back as it was
 * written. So each step's output is decoded with a schema that accepts both shapes, and an
 * old one is turned into the current shape (a whole file is summarised as if downloaded
 * now), so the job ends with a result bounded like any other. An output of neither shape
 * fails the job at once, naming the step.
 */
import { createHash } from "node:crypto"
import { Data, Effect, Schema } from "effect"

/** The most characters of text a result holds (about a page). */
export const excerptChars = 2_000
/** The most bytes of a file read for its text; the rest is only counted and hashed. */
export const headBytes = 16 * 1024

/** What the download step keeps of a file: its first bytes as text, its length and hash. */
export const Downloaded = Schema.Struct({ head: Schema.String, bytes: Schema.Int, sha256: Schema.String })
export type Downloaded = typeof Downloaded.Type

/** What the extract step keeps: the text's first characters, and whether there is more. */
export const Excerpt = Schema.Struct({ text: Schema.String, truncated: Schema.Boolean })
export type Excerpt = typeof Excerpt.Type

/** The job's result (the store step's output). */
export const Result = Schema.Struct({
  /** The text's first characters, at most {@link excerptChars}: never the whole file. */
  text: Schema.String.pipe(Schema.check(Schema.isMaxLength(excerptChars))),
  /** Whether the file has more text than `text` holds. */
  truncated: Schema.Boolean,
  bytes: Schema.Int,
  sha256: Schema.String,
  pages: Schema.Int
})
export type Result = typeof Result.Type

/** A completed step's stored output is of no shape this example ever wrote (fatal: not retried). */
export class StepOutputUnreadable extends Data.TaggedError("StepOutputUnreadable")<{ readonly message: string; readonly fatal: true }> {}

// eslint-disable-next-line no-control-regex
const controls = /[\u0000-\u0008\u000e-\u001f\u007f]/g

/** A file's head (as text), length and hash, from its bytes as they stream. */
export const summarise = (chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>) =>
  (async (): Promise<Downloaded> => {
    const hash = createHash("sha256")
    const head: Array<Uint8Array> = []
    let bytes = 0
    for await (const chunk of chunks) {
      if (bytes < headBytes) head.push(chunk.subarray(0, headBytes - bytes))
      bytes += chunk.length
      hash.update(chunk)
    }
    // stream: a character cut at headBytes is dropped, not replaced; invalid UTF-8 becomes U+FFFD.
    // Control characters go (PostgreSQL's jsonb refuses NUL), whitespace stays
    const text = new TextDecoder().decode(Buffer.concat(head), { stream: true }).replace(controls, "")
    return { head: text, bytes, sha256: hash.digest("hex") }
  })()

/** The excerpt of a text: at most excerptChars UTF-16 units, never cutting a surrogate pair in two. */
export const excerptOf = (text: string, downloaded: Downloaded): Excerpt => {
  const normalised = text.replace(/\s+/g, " ").trim()
  const cut = normalised.slice(0, excerptChars)
  const kept = /[\uD800-\uDBFF]$/.test(cut) ? cut.slice(0, -1) : cut
  return { text: kept, truncated: kept.length < normalised.length || downloaded.bytes > headBytes }
}

/** The result: the excerpt, with the file's length, hash and page count. */
export const resultOf = (excerpt: Excerpt, downloaded: Downloaded): Result => ({
  ...excerpt,
  bytes: downloaded.bytes,
  sha256: downloaded.sha256,
  pages: Math.max(1, Math.ceil(downloaded.bytes / 1800))
})

const decode = <S extends Schema.Codec<unknown, unknown>>(schema: S, step: string) => (stored: unknown) =>
  Schema.decodeUnknownEffect(schema)(stored).pipe(
    Effect.mapError(() =>
      new StepOutputUnreadable({ message: `the stored output of step "${step}" is of no shape this example wrote`, fatal: true })
    )
  ) as Effect.Effect<S["Type"], StepOutputUnreadable>

const storedDownload = decode(Schema.Union([Downloaded, Schema.String]), "download")
const storedExcerpt = decode(Schema.Union([Excerpt, Schema.String]), "extract")
const storedResult = decode(
  Schema.Union([Result, Schema.Struct({ text: Schema.String, characters: Schema.Number, pages: Schema.Number })]),
  "store"
)

/** The download step's output; the previous version's whole file is summarised as if downloaded now. */
export const download = (stored: unknown): Effect.Effect<Downloaded, StepOutputUnreadable> =>
  Effect.flatMap(storedDownload(stored), (out) =>
    typeof out === "string" ? Effect.promise(() => summarise([Buffer.from(out)])) : Effect.succeed(out))

/** The extract step's output; the previous version's whole text is cut to an excerpt. */
export const extract = (stored: unknown, downloaded: Downloaded): Effect.Effect<Excerpt, StepOutputUnreadable> =>
  Effect.map(storedExcerpt(stored), (out) => (typeof out === "string" ? excerptOf(out, downloaded) : out))

/** The store step's output; the previous version's `{ text, characters, pages }` is made again from the excerpt. */
export const result = (stored: unknown, excerpt: Excerpt, downloaded: Downloaded): Effect.Effect<Result, StepOutputUnreadable> =>
  Effect.map(storedResult(stored), (out) => ("characters" in out ? resultOf(excerpt, downloaded) : out))
