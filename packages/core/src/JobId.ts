/**
 * Job ids: UUIDv7, generated once at enqueue. They sort by creation time
 * (monotonic within a process, even within one millisecond), so "id asc"
 * breaks claim-order ties by age and list cursors are stable.
 *
 * @since 0.1.0
 */
let lastMs = 0
let seq = 0
// random bytes drawn 4 KiB at a time: one crypto call per 256 ids (the first 2 bytes of a
// millisecond's first id seed its sequence, bytes 8-15 of every id are its random tail)
let pool = Buffer.alloc(0)
let offset = 0
const random16 = (): number => {
  if (offset + 16 > pool.length) {
    // node:crypto loaded with the first id, not by a plain import (issue 13, item 6)
    pool = process.getBuiltinModule("node:crypto").randomBytes(4096)
    offset = 0
  }
  const at = offset
  offset += 16
  return at
}
const hex = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"))

/**
 * A new UUIDv7 for `nowMs` (default: the wall clock).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (nowMs: number = Date.now()): string => {
  if (nowMs > lastMs) {
    lastMs = nowMs
    const at = random16()
    seq = ((pool[at]! << 8) | pool[at + 1]!) & 0x7ff
  } else {
    seq++
    if (seq > 0xfff) {
      lastMs++
      seq = 0
    }
  }
  const r = random16()
  const ms = lastMs
  const high = Math.floor(ms / 2 ** 32)
  // 48-bit milliseconds, version 7 and 12-bit sequence, variant 10 and 62 random bits
  return hex[(high >>> 8) & 0xff]! + hex[high & 0xff]! + hex[(ms >>> 24) & 0xff]! + hex[(ms >>> 16) & 0xff]! + "-" +
    hex[(ms >>> 8) & 0xff]! + hex[ms & 0xff]! + "-" +
    hex[0x70 | (seq >>> 8)]! + hex[seq & 0xff]! + "-" +
    hex[(pool[r + 8]! & 0x3f) | 0x80]! + hex[pool[r + 9]!]! + "-" +
    hex[pool[r + 10]!]! + hex[pool[r + 11]!]! + hex[pool[r + 12]!]! + hex[pool[r + 13]!]! + hex[pool[r + 14]!]! +
    hex[pool[r + 15]!]!
}

const pattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/**
 * Whether a string has the shape of a job id (any UUID, lower case).
 * Routers use it to answer 404 for malformed ids without asking the store.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isValid = (id: string): boolean => pattern.test(id)
