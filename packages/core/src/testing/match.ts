/**
 * Partial deep matching of payloads, for `assertEnqueued`: every key of the
 * expected object must match (recursively); arrays match element by element
 * and length; anything else by `Object.is`, Dates by time. A function is a
 * predicate.
 *
 * @since 0.2.0
 */

/**
 * What a payload is matched against.
 *
 * @since 0.2.0
 * @category models
 */
export type PayloadMatch = Readonly<Record<string, unknown>> | ((payload: unknown) => boolean)

const isPlainObject = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u) && !(u instanceof Date)

/**
 * @since 0.2.0
 * @category matching
 */
export const matches = (actual: unknown, expected: unknown): boolean => {
  if (typeof expected === "function") return Boolean((expected as (u: unknown) => unknown)(actual))
  if (expected instanceof Date) return actual instanceof Date ? actual.getTime() === expected.getTime() : actual === expected.toISOString()
  if (Array.isArray(expected)) {
    return Array.isArray(actual) && actual.length === expected.length && expected.every((e, i) => matches(actual[i], e))
  }
  if (isPlainObject(expected)) {
    return isPlainObject(actual) && Object.entries(expected).every(([k, e]) => k in actual && matches(actual[k], e))
  }
  return Object.is(actual, expected)
}
