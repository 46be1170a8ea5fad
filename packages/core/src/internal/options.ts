/**
 * Checks of the options the public constructors take (runner, hook delivery,
 * job definition, retry policy, the Promise facade). Each check adds what is
 * wrong to a list of issues, with the option's path, so that one
 * `InvalidOptions` names every problem; none throws, whatever a plain
 * JavaScript caller passed.
 *
 * @internal
 */
import { Duration, Option, Schedule } from "effect"
import type { Issue } from "../JobError.js"

/** The issues found so far, and where the options being checked sit. */
export interface Checker {
  readonly issues: Array<Issue>
  readonly at: ReadonlyArray<string | number>
}

export const checker = (at: ReadonlyArray<string | number> = []): Checker => ({ issues: [], at })

/** A checker for the options under `key`, adding to the same list. */
export const under = (c: Checker, ...key: ReadonlyArray<string | number>): Checker => ({ issues: c.issues, at: [...c.at, ...key] })

export const add = (c: Checker, key: string | number | undefined, message: string): void => {
  c.issues.push({ path: key === undefined ? [...c.at] : [...c.at, key], message })
}

/** A value as a short text for an issue (`"soon"`, `-5`, `a function`…). */
export const show = (u: unknown): string => {
  if (typeof u === "string") return JSON.stringify(u.length > 40 ? `${u.slice(0, 40)}…` : u)
  if (typeof u === "number" || typeof u === "boolean" || u === null || u === undefined) return String(u)
  if (typeof u === "bigint") return `${u}n`
  if (typeof u === "function") return "a function"
  if (Array.isArray(u)) return "an array"
  return typeof u === "object" ? "an object" : typeof u
}

export interface DurationRule {
  /** Zero is allowed (default: only positive durations). */
  readonly zero?: boolean
}

/**
 * A duration option (`"30 seconds"`, milliseconds as a number, a `Duration`):
 * finite and positive (or zero, when allowed). Its milliseconds when valid.
 */
export const duration = (c: Checker, key: string, value: unknown, rule: DurationRule = {}): number | undefined => {
  const bound = rule.zero ? "zero or more" : "more than zero"
  const expected = `must be a finite duration of ${bound}, e.g. "30 seconds" or milliseconds as a number`
  if (typeof value === "number" && Number.isNaN(value)) return add(c, key, `${expected} (got NaN)`), undefined
  let d: Option.Option<Duration.Duration>
  try {
    d = Duration.fromInput(value as Duration.Input)
  } catch {
    d = Option.none()
  }
  if (Option.isNone(d)) return add(c, key, `${expected} (got ${show(value)})`), undefined
  const millis = Duration.toMillis(d.value)
  if (!Duration.isFinite(d.value) || !(rule.zero ? millis >= 0 : millis > 0)) {
    return add(c, key, `${expected} (got ${show(value)})`), undefined
  }
  return millis
}

/** An optional duration: checked when given. */
export const optionalDuration = (c: Checker, key: string, value: unknown, rule: DurationRule = {}): number | undefined =>
  value === undefined ? undefined : duration(c, key, value, rule)

/** An integer in [min, max]. */
export const integer = (c: Checker, key: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): void => {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `of at least ${min}` : `between ${min} and ${max}`
    add(c, key, `must be an integer ${range} (got ${show(value)})`)
  }
}

export const optionalInteger = (c: Checker, key: string, value: unknown, min: number, max?: number): void => {
  if (value !== undefined) integer(c, key, value, min, max)
}

/** A non-empty string of at most `max` characters. */
export const optionalString = (c: Checker, key: string, value: unknown, max = 200): void => {
  if (value !== undefined && !(typeof value === "string" && value.length > 0 && value.length <= max)) {
    add(c, key, `must be a non-empty string of at most ${max} characters (got ${show(value)})`)
  }
}

/** A plain object (the options bag itself, or a nested one). */
export const isRecord = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

/** A `RetryPolicy` (as its constructors make): a retry cap and a Schedule of delays. */
export const retryPolicy = (c: Checker, key: string, value: unknown): void => {
  if (!isRecord(value)) {
    return add(c, key, `must be a RetryPolicy (RetryPolicy.exponential, fixed, fromSchedule or none), got ${show(value)}`)
  }
  integer(under(c, key), "maxRetries", value.maxRetries, 0)
  if (!Schedule.isSchedule(value.schedule)) add(under(c, key), "schedule", "must be an Effect Schedule")
}

/**
 * The option names of an options type, from a record with one entry per key:
 * the compiler says when the type gains an option the record lacks (or the
 * record names one the type does not have).
 */
export const names = <T>(keys: { readonly [K in keyof Required<T>]: true }): ReadonlyArray<string> => Object.keys(keys)

/**
 * Adds an issue for each key of `options` that is not one of `known` (a
 * typo such as `concurency` was ignored, and its default used, without a
 * word), naming the nearest known option when one is close. A key whose value
 * is `undefined` is left alone: it sets nothing either way.
 */
export const unknownKeys = (c: Checker, options: Record<string, unknown>, known: ReadonlyArray<string>): void => {
  for (const key of Object.keys(options)) {
    if (known.includes(key) || options[key] === undefined) continue
    const near = nearest(key, known)
    add(c, key, near === undefined ? `is not an option (the options are ${known.join(", ")})` : `is not an option: did you mean "${near}"?`)
  }
}

/**
 * The known name closest to `key`: the same but for case, or at most 2 edits
 * away (1 for short names), or 3 when they start alike (`retries`: `retry`).
 */
const nearest = (key: string, known: ReadonlyArray<string>): string | undefined => {
  const lower = key.toLowerCase()
  let best: string | undefined
  let bestDistance = Infinity
  for (const name of known) {
    const other = name.toLowerCase()
    const d = other === lower ? 0 : distance(lower, other)
    const allowed = Math.min(lower.length, other.length) <= 4 ? 1 : lower.slice(0, 4) === other.slice(0, 4) ? 3 : 2
    if (d <= allowed && d < bestDistance) {
      best = name
      bestDistance = d
    }
  }
  return best
}

/** Edit distance (insert, delete, replace, swap two neighbours), bounded work: names are short. */
const distance = (a: string, b: string): number => {
  if (Math.abs(a.length - b.length) > 3 || a.length > 64 || b.length > 64) return Infinity
  const d: Array<Array<number>> = Array.from({ length: a.length + 1 }, (_, i) => [i])
  for (let j = 1; j <= b.length; j++) d[0]![j] = j
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1)
      d[i]![j] = v
    }
  }
  return d[a.length]![b.length]!
}
