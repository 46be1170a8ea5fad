/**
 * The size of a handler's result as the store receives it: the UTF-8 bytes
 * of its JSON text, checked against the runner's limit before anything is
 * written (`RunnerOptions.maxResultBytes`).
 *
 * One walk without recursion bounds the size from below and above without
 * serializing: below, every character is at least a byte and escapes only add;
 * above, a UTF-16 code unit is at most 6 bytes in JSON (`\u001f`), a number
 * at most 24 characters. A result is within the limit when the upper bound
 * is (nearly every result: no serializing), over it once the lower bound is
 * (the walk stops there: a 200 MB result costs no more than the limit), and
 * only between the two is it serialized to be measured exactly.
 */
import type { Json } from "../Job.js"

/** Over the limit: the size, exact or (when the walk stopped early) a lower bound. */
export interface Oversize {
  readonly bytes: number
  readonly exact: boolean
}

/** The result's size when it is over `limit` bytes as JSON; undefined when within. */
export const oversize = (value: Json, limit: number): Oversize | undefined => {
  let low = 0
  let high = 0
  const stack: Array<Json> = [value]
  while (stack.length > 0) {
    const v = stack.pop()!
    if (typeof v === "string") {
      low += v.length + 2
      high += v.length * 6 + 2
    } else if (typeof v === "number") {
      low += 1
      high += 24
    } else if (typeof v === "boolean" || v === null) {
      low += 4
      high += 5
    } else if (Array.isArray(v)) {
      low += 2 + Math.max(0, v.length - 1)
      high += 2 + v.length
      for (let i = 0; i < v.length; i++) stack.push(v[i]!)
    } else {
      const o = v as { readonly [key: string]: Json }
      low += 2
      high += 2
      for (const key in o) {
        if (!Object.hasOwn(o, key)) continue
        low += key.length + 3
        high += key.length * 6 + 4
        stack.push(o[key]!)
      }
    }
    if (low > limit) return { bytes: low + remaining(stack), exact: false }
  }
  if (high <= limit) return undefined
  const bytes = utf8Bytes(JSON.stringify(value))
  return bytes > limit ? { bytes, exact: true } : undefined
}

/** A lower bound of the values left on the stack: their strings' lengths, without walking into them far. */
const remaining = (stack: ReadonlyArray<Json>): number => {
  let n = 0
  for (const v of stack) n += typeof v === "string" ? v.length + 2 : 1
  return n
}

/** UTF-8 bytes of a string, without encoding it. */
const utf8Bytes = (s: string): number => {
  let n = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x80) n += 1
    else if (c < 0x800) n += 2
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      n += 4
      i++
    } else n += 3
  }
  return n
}
