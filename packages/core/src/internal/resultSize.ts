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
 * only between the two is it serialized to be measured exactly. A value
 * whose JSON is not its own keys (a `Date`, any object with `toJSON`, a class
 * instance) is measured exactly at once: its walk would bound nothing.
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
    if (v === undefined || typeof v === "function" || typeof v === "symbol") {
      // in an array, JSON writes null (an object's key with such a value is left out below)
      low += 4
      high += 5
    } else if (typeof v === "string") {
      low += v.length + 2
      high += v.length * 6 + 2
    } else if (typeof v === "number") {
      low += 1
      high += 24
    } else if (typeof v === "boolean" || v === null) {
      low += 4
      high += 5
    } else if (typeof v !== "object" || !ownKeysAreItsJson(v)) {
      return exactly(value, limit)
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
        const x = o[key] as unknown
        if (x === undefined || typeof x === "function" || typeof x === "symbol") continue
        low += key.length + 3
        high += key.length * 6 + 4
        stack.push(o[key]!)
      }
    }
    if (low > limit) return { bytes: low + remaining(stack), exact: false }
  }
  return high <= limit ? undefined : exactly(value, limit)
}

/** Serialized and measured, as the store will write it. */
const exactly = (value: Json, limit: number): Oversize | undefined => {
  const text = JSON.stringify(value) as string | undefined
  const bytes = text === undefined ? 0 : utf8Bytes(text)
  return bytes > limit ? { bytes, exact: true } : undefined
}

/** A plain object or array without `toJSON`: JSON writes its own keys (a Date, a class instance: not). */
const ownKeysAreItsJson = (v: object): boolean => {
  if (typeof (v as { toJSON?: unknown }).toJSON === "function") return false
  if (Array.isArray(v)) return true
  const proto = Object.getPrototypeOf(v) as unknown
  return proto === Object.prototype || proto === null
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
