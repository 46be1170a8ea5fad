/**
 * Text that may be stored and shown: well-formed Unicode (no lone surrogates), no
 * control characters (NUL included, which PostgreSQL refuses), between 1 and `max`
 * characters. Used for file URLs, file names and record ids, so bad input is a 400
 * naming every problem, never a 500 from the database or the file system.
 */
import { Schema } from "effect"

// eslint-disable-next-line no-control-regex
const control = /[\u0000-\u001f\u007f]/
const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

export const text = (max: number) =>
  Schema.String.pipe(Schema.check(
    Schema.isMinLength(1),
    Schema.isMaxLength(max),
    Schema.makeFilter((s: string) => !loneSurrogate.test(s) || "must be well-formed Unicode (no lone surrogates)"),
    Schema.makeFilter((s: string) => !control.test(s) || "must not contain control characters")
  ))

/** A record id as it appears in a URL path. */
export const RecordId = Schema.String.pipe(Schema.check(
  Schema.makeFilter((s: string) => /^[\w.-]{1,128}$/.test(s) || "a record id is 1 to 128 letters, digits, '_', '.' or '-'")
))
