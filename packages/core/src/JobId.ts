/**
 * Job ids: UUIDv7, generated once at enqueue. They sort by creation time
 * (monotonic within a process, even within one millisecond), so "id asc"
 * breaks claim-order ties by age and list cursors are stable.
 *
 * @since 0.1.0
 */
import { randomBytes } from "node:crypto"

let lastMs = 0
let seq = 0
// random bytes drawn 4 KiB at a time: one crypto call per 256 ids
let pool = Buffer.alloc(0)
let offset = 0
const random16 = (): Buffer => {
  if (offset + 16 > pool.length) {
    pool = randomBytes(4096)
    offset = 0
  }
  const out = Buffer.from(pool.subarray(offset, offset + 16))
  offset += 16
  return out
}

/**
 * A new UUIDv7 for `nowMs` (default: the wall clock).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (nowMs: number = Date.now()): string => {
  if (nowMs > lastMs) {
    lastMs = nowMs
    seq = random16().readUInt16BE(0) & 0x7ff
  } else {
    seq++
    if (seq > 0xfff) {
      lastMs++
      seq = 0
    }
  }
  const bytes = random16()
  const ms = lastMs
  bytes[0] = Math.floor(ms / 2 ** 40) & 0xff
  bytes[1] = Math.floor(ms / 2 ** 32) & 0xff
  bytes[2] = (ms >>> 24) & 0xff
  bytes[3] = (ms >>> 16) & 0xff
  bytes[4] = (ms >>> 8) & 0xff
  bytes[5] = ms & 0xff
  bytes[6] = 0x70 | (seq >>> 8)
  bytes[7] = seq & 0xff
  bytes[8] = (bytes[8]! & 0x3f) | 0x80
  const hex = bytes.toString("hex")
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
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
