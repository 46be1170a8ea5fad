/**
 * Reading `timestamptz` values without regular expressions. A claimed or
 * completed job carries five or more timestamps; `pg`'s default parser
 * (postgres-date) matches each with three regular expressions, which made it
 * the largest allocator of a worker after the Effect runtime (about 4.5 KB
 * per no-op job, issue 13). This parser reads the text PostgreSQL sends for
 * `timestamptz` (`YYYY-MM-DD HH:MM:SS[.ffffff]±HH[:MM[:SS]]`) digit by digit
 * and hands anything else (BC dates, years before 100 or after 9999,
 * infinity) to the default parser, so the values are the same Dates.
 *
 * @since 0.2.0
 */

/** The number in `s[from, to)`, or NaN when a character is not a digit. */
const digits = (s: string, from: number, to: number): number => {
  let n = 0
  for (let i = from; i < to; i++) {
    const d = s.charCodeAt(i) - 48
    if (d < 0 || d > 9) return Number.NaN
    n = n * 10 + d
  }
  return n
}

const DASH = 45
const SPACE = 32
const COLON = 58
const DOT = 46
const PLUS = 43

/**
 * A `timestamptz` text parser with `fallback` for the forms it does not read
 * (pass `pg.types.getTypeParser(1184)`).
 *
 * @example
 * ```ts
 * const parse = timestamptz(pg.types.getTypeParser(1184))
 * parse("2026-11-30 15:10:10.123456+00") // Date 2026-11-30T15:10:10.123Z
 * ```
 * @since 0.2.0
 * @category parsing
 */
export const timestamptz = (fallback: (text: string) => unknown) => (s: string): unknown => {
  if (
    s.length < 22 || s.charCodeAt(4) !== DASH || s.charCodeAt(7) !== DASH || s.charCodeAt(10) !== SPACE ||
    s.charCodeAt(13) !== COLON || s.charCodeAt(16) !== COLON
  ) return fallback(s)
  const year = digits(s, 0, 4)
  let i = 19
  // milliseconds: the first three digits of the fraction (the rest is truncated, as Date.UTC does)
  let ms = 0
  if (s.charCodeAt(i) === DOT) {
    i++
    let scale = 100
    while (i < s.length) {
      const d = s.charCodeAt(i) - 48
      if (d < 0 || d > 9) break
      ms += d * scale
      scale = scale === 1 ? 0 : scale / 10
      i++
    }
  }
  const sign = s.charCodeAt(i)
  if (sign !== PLUS && sign !== DASH) return fallback(s)
  let offset = digits(s, i + 1, i + 3) * 3600
  i += 3
  if (s.charCodeAt(i) === COLON) {
    offset += digits(s, i + 1, i + 3) * 60
    i += 3
    if (s.charCodeAt(i) === COLON) {
      offset += digits(s, i + 1, i + 3)
      i += 3
    }
  }
  const utc = Date.UTC(year, digits(s, 5, 7) - 1, digits(s, 8, 10), digits(s, 11, 13), digits(s, 14, 16), digits(s, 17, 19), ms)
  // Date.UTC reads years 0-99 as 1900-1999: those, and anything left unread, go to the fallback
  if (i !== s.length || year < 100 || Number.isNaN(utc) || Number.isNaN(offset)) return fallback(s)
  return new Date(utc - (sign === PLUS ? offset : -offset) * 1000)
}
