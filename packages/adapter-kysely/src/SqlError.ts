/**
 * Classify database errors by SQLSTATE (and Node's system error codes for
 * the connection itself), never by message text.
 *
 * @since 0.1.0
 */
import { StoreError } from "@jobtrack/core"
import type { StoreFailure } from "@jobtrack/core"

/**
 * SQLSTATE codes and classes that mean "try again later".
 *
 * @since 0.1.0
 * @category classification
 */
export const retryableStates: ReadonlySet<string> = new Set([
  "40001", // serialization_failure
  "40P01", // deadlock_detected
  "55P03", // lock_not_available (lock_timeout)
  "57014", // query_canceled (statement_timeout)
  "57P01", // admin_shutdown (pg_terminate_backend, restart)
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now (starting up)
  "53000", // insufficient_resources
  "53100", // disk_full
  "53200", // out_of_memory
  "53300", // too_many_connections
  "53400" // configuration_limit_exceeded
])

/** Class 08: connection exceptions. */
const retryableClasses = new Set(["08"])

const systemCodes = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH", "ENOTFOUND", "EAI_AGAIN"])

/**
 * What the drivers say when the store itself was closed (Kysely destroyed,
 * pg's pool ended, PGlite closed): no retry can succeed. They carry no code,
 * so only their text tells them from a lost connection.
 */
const closedMessages = [
  "driver has already been destroyed",
  "Cannot use a pool after calling end on the pool",
  "PGlite is closed"
]

/**
 * Whether an error from the database driver may succeed if retried.
 * A driver error without any code (pg's "connection terminated") is a
 * connection-level failure and retryable; one that says the store was
 * closed is not.
 *
 * @since 0.1.0
 * @category classification
 */
export const isRetryable = (error: unknown): boolean => {
  if (error instanceof TypeError || error instanceof RangeError || error instanceof SyntaxError) return false
  const code = typeof error === "object" && error !== null && "code" in error ? String(error.code) : undefined
  if (code === undefined) {
    const message = error instanceof Error ? error.message : String(error)
    return !closedMessages.some((m) => message.includes(m))
  }
  if (/^[0-9A-Z]{5}$/.test(code)) return retryableStates.has(code) || retryableClasses.has(code.slice(0, 2))
  return systemCodes.has(code)
}

/**
 * The SQLSTATE of an error, if it has one.
 *
 * @since 0.1.0
 * @category classification
 */
export const sqlState = (error: unknown): string | undefined => {
  const code = typeof error === "object" && error !== null && "code" in error ? String(error.code) : undefined
  return code !== undefined && /^[0-9A-Z]{5}$/.test(code) ? code : undefined
}

/**
 * SQLSTATE classes of data the database refused: 22 data exception (e.g.
 * 22P05, a `\u0000` in jsonb; 22021, a NUL byte in text), 23 integrity
 * constraint violation, 54 program limit exceeded (e.g. an index row too
 * large). The same statement with the same data fails again: bad input, not
 * an outage.
 *
 * @since 0.1.0
 * @category classification
 */
export const rejectedClasses: ReadonlySet<string> = new Set(["22", "23", "54"])

/** Class 53: insufficient resources (disk full, out of memory, too many connections). */
const unavailableClasses = new Set(["08", "53"])

/**
 * What a driver error means: the database unreachable or unable to serve now
 * ("unavailable"), data it refused ("rejected"), or anything else — a
 * missing table, a syntax error, a bug — ("internal").
 *
 * @since 0.1.0
 * @category classification
 */
export const failureOf = (error: unknown): StoreFailure => {
  const state = sqlState(error)
  if (state !== undefined) {
    const cls = state.slice(0, 2)
    if (rejectedClasses.has(cls)) return "rejected"
    return retryableStates.has(state) || unavailableClasses.has(cls) ? "unavailable" : "internal"
  }
  return isRetryable(error) ? "unavailable" : "internal"
}

/**
 * Wrap a driver error as the store's typed error.
 *
 * @since 0.1.0
 * @category constructors
 */
export const toStoreError = (operation: string, error: unknown): StoreError => {
  const state = sqlState(error) ?? (typeof error === "object" && error !== null && "code" in error ? String(error.code) : "no code")
  return new StoreError({
    reason: `${operation} failed (${state})`,
    retryable: isRetryable(error),
    kind: failureOf(error),
    cause: error
  })
}
