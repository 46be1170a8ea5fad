/**
 * What every store can hold. PostgreSQL's `text` refuses the NUL character
 * and `jsonb` refuses `\u0000` and unpaired surrogates (a JavaScript string
 * may carry both); JSON has no NaN or Infinity. A value that passes these
 * checks is stored as given by every store, so the tracker refuses the rest
 * at validation — a typed `InvalidInput` naming the field, nothing stored —
 * instead of letting one store fail the write and another keep it.
 *
 * @example
 * ```ts
 * import { Storable } from "@jobtrack/core"
 *
 * Storable.jsonIssues({ name: "a\u0000b" }, ["payload"])
 * // [{ path: ["payload", "name"], message: "Expected text without NUL characters (U+0000)" }]
 * ```
 * @since 0.1.0
 */
import type { Issue } from "./JobError.js"

const lone = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

/**
 * Why a string cannot be stored, or undefined when it can.
 *
 * @since 0.1.0
 * @category validation
 */
export const textProblem = (text: string): string | undefined =>
  text.includes("\u0000")
    ? "Expected text without NUL characters (U+0000)"
    : lone.test(text)
    ? "Expected well-formed Unicode text (it has an unpaired surrogate)"
    : undefined

/**
 * The text with every NUL character and unpaired surrogate replaced by
 * U+FFFD, for text jobtrack writes on a handler's behalf (error and progress
 * messages), which must be stored whatever a handler or a child process said.
 *
 * @since 0.1.0
 * @category constructors
 */
export const storableText = (text: string): string =>
  textProblem(text) === undefined ? text : text.replace(/\u0000/g, "\ufffd").replace(new RegExp(lone.source, "g"), "\ufffd")

/**
 * Every place in a JSON value that a store cannot hold: strings (and object
 * keys) with NUL characters or unpaired surrogates, numbers that are not
 * finite, BigInts (JSON has none: `JSON.stringify` throws on them). `path` is the prefix of each issue's path. Walks without recursion,
 * so a deeply nested value cannot overflow the stack.
 *
 * @since 0.1.0
 * @category validation
 */
export const jsonIssues = (value: unknown, path: ReadonlyArray<string | number> = []): Array<Issue> =>
  storable(value) ? [] : locate(value, path)

/** Whether every string, key and number of a JSON value can be stored: one walk, no paths built. */
const storable = (value: unknown): boolean => {
  const stack: Array<unknown> = [value]
  while (stack.length > 0) {
    const v = stack.pop()
    if (typeof v === "string") {
      if (textProblem(v) !== undefined) return false
    } else if (typeof v === "number") {
      if (!Number.isFinite(v)) return false
    } else if (typeof v === "bigint") {
      return false
    } else if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) stack.push(v[i])
    } else if (typeof v === "object" && v !== null) {
      for (const key in v) {
        if (!Object.hasOwn(v, key)) continue
        if (textProblem(key) !== undefined) return false
        stack.push((v as Record<string, unknown>)[key])
      }
    }
  }
  return true
}

/** The issues of a value that is not storable, each with its path. */
const locate = (value: unknown, path: ReadonlyArray<string | number>): Array<Issue> => {
  const issues: Array<Issue> = []
  const stack: Array<{ readonly value: unknown; readonly path: ReadonlyArray<string | number> }> = [{ value, path }]
  while (stack.length > 0) {
    const { path, value } = stack.pop()!
    if (typeof value === "string") {
      const problem = textProblem(value)
      if (problem) issues.push({ path, message: problem })
    } else if (typeof value === "number") {
      if (!Number.isFinite(value)) issues.push({ path, message: "Expected a finite number" })
    } else if (typeof value === "bigint") {
      issues.push({ path, message: "Expected a JSON value, not a BigInt (store it as a string or a number)" })
    } else if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push({ value: value[i], path: [...path, i] })
    } else if (typeof value === "object" && value !== null) {
      const entries = Object.entries(value)
      for (let i = entries.length - 1; i >= 0; i--) {
        const [key, v] = entries[i]!
        const problem = textProblem(key)
        if (problem) issues.push({ path: [...path, key], message: `${problem} in the key` })
        else stack.push({ value: v, path: [...path, key] })
      }
    }
  }
  return issues
}
