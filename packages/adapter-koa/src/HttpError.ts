/**
 * Errors as the HTTP contract writes them: `{ "error": { "code", "message", "details"? } }`.
 *
 * @since 0.1.0
 */

/**
 * @since 0.1.0
 * @category models
 */
export type ErrorCode =
  | "invalid_input"
  | "unauthorized"
  | "forbidden"
  | "not_found"
  | "method_not_allowed"
  | "invalid_transition"
  | "payload_too_large"
  | "unsupported_media_type"
  | "too_many_streams"
  | "store_unavailable"
  | "internal"

/**
 * A response: what a handler returns, for any HTTP framework to write.
 *
 * @since 0.1.0
 * @category models
 */
export interface HttpResponse {
  readonly status: number
  readonly body?: unknown
  /** Headers to set, e.g. `Retry-After` on a 429 (since 0.2.0). */
  readonly headers?: Readonly<Record<string, string>>
}

/**
 * @since 0.1.0
 * @category constructors
 */
export const error = (status: number, code: ErrorCode, message: string, details?: unknown): HttpResponse => ({
  status,
  body: { error: { code, message, ...(details === undefined ? {} : { details }) } }
})
