/**
 * Open event streams, counted per owner and in all: a stream takes a slot
 * when it is opened and gives it back when it ends (the job's stream ended,
 * the client went away, the socket failed). Over a cap, the router answers
 * 429 `too_many_streams` with `Retry-After` instead of opening one more.
 * Every Server-Sent Events stream holds a socket, a file descriptor and its
 * buffers for as long as the client keeps it (the socket never times out),
 * so without a cap one owner could hold thousands.
 *
 * @since 0.2.0
 */
import { BlockList, isIPv4, isIPv6, SocketAddress } from "node:net"
import { InvalidOptions } from "@jobtrack/core"
import type { Issue } from "@jobtrack/core"
import { error } from "./HttpError.js"
import type { HttpResponse } from "./HttpError.js"

/**
 * @since 0.2.0
 * @category models
 */
export interface Caps {
  /** Streams one key (an owner) may hold open at once; `Infinity`: no cap. */
  readonly perKey: number
  /** Streams open at once in all; `Infinity`: no cap. */
  readonly total: number
}

/**
 * @since 0.2.0
 * @category models
 */
export interface StreamSlots {
  /**
   * Take a slot for `key`: the function that gives it back (idempotent), or
   * the 429 to answer when a cap is reached.
   */
  readonly take: (key: string | null) => { readonly release: () => void } | HttpResponse
  /** Streams open now, in all and for one key. */
  readonly open: (key?: string | null) => number
}

/**
 * How a caller names the caps in an `InvalidOptions` (its options' names).
 *
 * @since 0.2.0
 * @category models
 */
export interface CapNames {
  readonly of: string
  readonly perKey: string
  readonly total: string
}

/** Seconds a refused client is told to wait (`Retry-After`). */
const retryAfterSeconds = 5

/**
 * @example
 * ```ts
 * import { StreamSlots } from "@jobtrack/adapter-koa"
 *
 * // an InvalidOptions naming every cap that is not an integer of at least 1 (or Infinity)
 * const slots = StreamSlots.make({ perKey: 20, total: 1_000 })
 * const slot = slots.take("ann")
 * if ("release" in slot) res.once("close", slot.release)
 * ```
 * @since 0.2.0
 * @category constructors
 */
export const make = (caps: Caps, names: CapNames = { of: "stream caps", perKey: "perKey", total: "total" }): StreamSlots => {
  const issues: Array<Issue> = []
  for (const key of ["perKey", "total"] as const) {
    const v = caps[key]
    if (!(v === Infinity || (Number.isInteger(v) && v >= 1))) {
      issues.push({ path: [names[key]], message: `must be an integer of at least 1, or Infinity (got ${String(v)})` })
    }
  }
  if (issues.length > 0) throw new InvalidOptions({ of: names.of, issues })
  const byKey = new Map<string | null, number>()
  let total = 0
  const refuse = (message: string) => ({
    ...error(429, "too_many_streams", message),
    headers: { "Retry-After": String(retryAfterSeconds) }
  })
  return {
    take: (key) => {
      const mine = byKey.get(key) ?? 0
      if (mine >= caps.perKey) return refuse(`at most ${caps.perKey} event streams may be open at once per caller`)
      if (total >= caps.total) return refuse("too many event streams are open; try again later")
      byKey.set(key, mine + 1)
      total++
      let released = false
      return {
        release: () => {
          if (released) return
          released = true
          total--
          const left = (byKey.get(key) ?? 1) - 1
          if (left === 0) byKey.delete(key)
          else byKey.set(key, left)
        }
      }
    },
    open: (key) => (key === undefined ? total : byKey.get(key) ?? 0)
  }
}

/** IPv4-mapped IPv6 addresses (`::ffff:0:0/96`): what a dual-stack server sees of an IPv4 client. */
let mappedIPv4: BlockList | undefined

/** The address as node:net writes it (`::ffff:7f00:1` → `::ffff:127.0.0.1`, zone dropped), or `undefined` if it is none. */
const canonical = (ip: string): { readonly address: string; readonly family: "ipv4" | "ipv6" } | undefined => {
  const family = isIPv4(ip) ? "ipv4" : isIPv6(ip) ? "ipv6" : undefined
  if (family === undefined) return undefined
  try {
    return { address: new SocketAddress({ address: ip, family }).address, family }
  } catch {
    return undefined
  }
}

/**
 * The key an anonymous caller's streams are counted under: its address, an
 * IPv6 address by its /64 (one subscriber's network: a client picks any of
 * its 2^64 addresses at will, so per address it had no cap at all), an
 * IPv4-mapped IPv6 address (`::ffff:203.0.113.1`, what a dual-stack server
 * sees of an IPv4 client, however it is written: `::ffff:cb00:7101`,
 * `0:0:0:0:0:ffff:203.0.113.1`…) as the IPv4 address. Addresses are
 * normalised by node:net (`SocketAddress`, `BlockList`), so every spelling of
 * one address is one key. Keys start with `jobtrack:`, which no caller can
 * be (the jobs API refuses such an owner), so none collides with an owner's.
 *
 * @example
 * ```ts
 * anonymousKey("2001:db8::1")        // "jobtrack:anonymous:2001:db8:0:0::/64"
 * anonymousKey("::ffff:203.0.113.1") // "jobtrack:anonymous:203.0.113.1"
 * anonymousKey("::ffff:cb00:7101")   // "jobtrack:anonymous:203.0.113.1"
 * ```
 * @since 0.2.0
 * @category constructors
 */
export const anonymousKey = (ip: string): string => {
  // an IPv6 zone (fe80::1%eth0) names no other network
  const bare = ip.trim().replace(/%.*$/, "")
  const known = canonical(bare)
  if (known === undefined) return `jobtrack:anonymous:${bare.toLowerCase()}`
  if (known.family === "ipv4") return `jobtrack:anonymous:${known.address}`
  if (mappedIPv4 === undefined) {
    mappedIPv4 = new BlockList()
    mappedIPv4.addSubnet("::ffff:0:0", 96, "ipv6")
  }
  // node:net writes a mapped address with its IPv4 tail (::ffff:127.0.0.1)
  if (mappedIPv4.check(known.address, "ipv6")) {
    const tail = known.address.slice(known.address.lastIndexOf(":") + 1)
    if (isIPv4(tail)) return `jobtrack:anonymous:${tail}`
  }
  // the first four groups of the canonical form, with "::" expanded (an IPv4 tail counts as two groups)
  const [head = "", rest] = known.address.split("::")
  const parts = (text: string) => (text === "" ? [] : text.split(":").flatMap((g) => (g.includes(".") ? ["0", "0"] : [g])))
  const before = parts(head)
  const after = rest === undefined ? [] : parts(rest)
  const groups = [...before, ...Array<string>(8 - before.length - after.length).fill("0"), ...after]
  return `jobtrack:anonymous:${groups.slice(0, 4).map((g) => parseInt(g, 16).toString(16)).join(":")}::/64`
}
