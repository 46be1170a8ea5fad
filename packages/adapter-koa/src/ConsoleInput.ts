/**
 * The operator console's input, read from query strings and JSON bodies:
 * filters, list requests, actions. Every problem is named (path and message)
 * in one `InvalidInput`, never a partial read. Hand-written rather than an
 * Effect Schema because query values arrive as strings with console-specific
 * forms (comma lists, ISO dates, an opaque cursor) and the issues must name
 * the wire field.
 *
 * @since 0.2.0
 */
import { AdminStore, Job, JobId } from "@jobtrack/core"
import type { Issue, JobStatus } from "@jobtrack/core"

/**
 * An action on jobs (one, a selection, or by filter), as named on the wire and in `access`.
 *
 * @since 0.2.0
 * @category models
 */
export type JobAction = "retry" | "cancel" | "delete" | "runNow" | "setPriority"

/**
 * An action on a cron schedule, as named on the wire and in `access`.
 *
 * @since 0.2.0
 * @category models
 */
export type ScheduleAction = "pauseSchedule" | "resumeSchedule" | "triggerSchedule"

/**
 * An action the console can take, as named on the wire and in `access`.
 *
 * @since 0.2.0
 * @category models
 */
export type ConsoleAction = JobAction | ScheduleAction

/**
 * Every action on jobs.
 *
 * @since 0.2.0
 * @category constants
 */
export const jobActions: ReadonlyArray<JobAction> = ["retry", "cancel", "delete", "runNow", "setPriority"]

/**
 * Every action on schedules.
 *
 * @since 0.2.0
 * @category constants
 */
export const scheduleActions: ReadonlyArray<ScheduleAction> = ["pauseSchedule", "resumeSchedule", "triggerSchedule"]

/**
 * Every action.
 *
 * @since 0.2.0
 * @category constants
 */
export const allActions: ReadonlyArray<ConsoleAction> = [...jobActions, ...scheduleActions]

type Input = Readonly<Record<string, unknown>>
type Result<A> = { readonly ok: true; readonly value: A } | { readonly ok: false; readonly issues: ReadonlyArray<Issue> }

const statusSet = new Set<string>(Job.statuses)
const text = (issues: Array<Issue>, input: Input, key: string, max = 200): string | undefined => {
  const v = input[key]
  if (v === undefined || v === "") return undefined
  if (typeof v !== "string" || v.length > max) {
    issues.push({ path: [key], message: `Expected text of at most ${max} characters` })
    return undefined
  }
  return v
}
/** The instants every store can hold and compare: years 0001 to 9999 (UTC). */
const earliest = new Date("0001-01-01T00:00:00.000Z").getTime()
const latest = new Date("9999-12-31T23:59:59.999Z").getTime()
const inRange = (ms: number) => Number.isFinite(ms) && ms >= earliest && ms <= latest

const date = (issues: Array<Issue>, input: Input, key: string): Date | undefined => {
  const v = text(issues, input, key, 40)
  if (v === undefined) return undefined
  const d = new Date(v)
  if (Number.isNaN(d.getTime()) || !/^\d{4}-\d\d-\d\d/.test(v)) {
    issues.push({ path: [key], message: "Expected an ISO date, e.g. 2026-11-30T09:00:00Z" })
    return undefined
  }
  // year 0000 parses, and an offset can carry 9999-12-31 into year 10000: no store holds those
  if (!inRange(d.getTime())) {
    issues.push({ path: [key], message: "Expected a date in the years 0001 to 9999" })
    return undefined
  }
  return d
}
/**
 * The wire fields of a filter, as `filter` reads them.
 *
 * @example
 * ```ts
 * ConsoleInput.filterFields.includes("status") // true
 * ```
 * @since 0.2.0
 * @category constants
 */
export const filterFields: ReadonlyArray<string> = [
  "status",
  "type",
  "queue",
  "key",
  "owner",
  "no_owner",
  "created_from",
  "created_to",
  "finished_from",
  "finished_to",
  "error",
  "ids"
]

/**
 * One issue for every key of `input` outside `known`, each naming the key and
 * listing the known ones: a misspelt field is refused, never read as absent
 * (a filter missing a field it was meant to have matches more jobs).
 *
 * @example
 * ```ts
 * const issues: Array<Issue> = []
 * ConsoleInput.unknownFields({ stauts: "failed" }, ConsoleInput.filterFields, issues)
 * // issues: [{ path: ["stauts"], message: "unknown field; the known fields are status, type, …" }]
 * ```
 * @since 0.2.0
 * @category parsing
 */
export const unknownFields = (input: Input, known: ReadonlyArray<string>, issues: Array<Issue>): void => {
  for (const key of Object.keys(input)) {
    if (!known.includes(key)) issues.push({ path: [key], message: `unknown field; the known fields are ${known.join(", ")}` })
  }
}

const list = (v: unknown): ReadonlyArray<unknown> | undefined =>
  v === undefined || v === "" ? undefined : typeof v === "string" ? v.split(",").filter((s) => s.length > 0) : Array.isArray(v) ? v : [v]

/**
 * A filter from wire fields: `status` (comma list), `type`, `queue`, `key`,
 * `owner`, `no_owner` ("true": jobs without one), `created_from`,
 * `created_to`, `finished_from`, `finished_to` (ISO), `error` (text in the
 * error), `ids` (comma list, at most 500). Any other key is an issue naming
 * it, except those in `also` (the fields the caller reads itself, e.g. a
 * list request's `sort`).
 *
 * @example
 * ```ts
 * const issues: Array<Issue> = []
 * const f = ConsoleInput.filter({ status: "failed", type: "extract" }, issues)
 * // f: { status: ["failed"], type: "extract" }, issues: []
 * ```
 * @since 0.2.0
 * @category parsing
 */
export const filter = (input: Input, issues: Array<Issue>, also: ReadonlyArray<string> = []): AdminStore.AdminFilter => {
  unknownFields(input, also.length === 0 ? filterFields : [...filterFields, ...also], issues)
  const out: { -readonly [K in keyof AdminStore.AdminFilter]: AdminStore.AdminFilter[K] } = {}
  const status = list(input.status)
  if (status !== undefined) {
    const bad = status.filter((s) => typeof s !== "string" || !statusSet.has(s))
    if (bad.length > 0) issues.push({ path: ["status"], message: `unknown status ${bad.map((s) => JSON.stringify(String(s))).join(", ")}` })
    else out.status = status as Array<JobStatus>
  }
  for (const [wire, key] of [["type", "type"], ["queue", "queue"], ["key", "key"]] as const) {
    const v = text(issues, input, wire)
    if (v !== undefined) out[key] = v
  }
  const owner = text(issues, input, "owner")
  const noOwner = input.no_owner === "true" || input.no_owner === true
  if (owner !== undefined && noOwner) issues.push({ path: ["no_owner"], message: "give owner or no_owner, not both" })
  if (owner !== undefined) out.owner = owner
  if (noOwner) out.owner = null
  for (const [wire, key] of [
    ["created_from", "createdFrom"],
    ["created_to", "createdTo"],
    ["finished_from", "finishedFrom"],
    ["finished_to", "finishedTo"]
  ] as const) {
    const d = date(issues, input, wire)
    if (d !== undefined) out[key] = d
  }
  const error = text(issues, input, "error")
  if (error !== undefined) out.errorContains = error
  const ids = list(input.ids)
  if (ids !== undefined) {
    if (ids.length > AdminStore.maxIds) issues.push({ path: ["ids"], message: `at most ${AdminStore.maxIds} ids` })
    else if (ids.some((id) => typeof id !== "string" || !JobId.isValid(id))) {
      issues.push({ path: ["ids"], message: "Expected job ids" })
    } else out.ids = ids as Array<string>
  }
  return out
}

/**
 * The filter as wire fields again (what a bulk job's payload keeps).
 *
 * @since 0.2.0
 * @category parsing
 */
export const filterToWire = (f: AdminStore.AdminFilter): Record<string, string> => {
  const out: Record<string, string> = {}
  if (f.status) out.status = f.status.join(",")
  if (f.type !== undefined) out.type = f.type
  if (f.queue !== undefined) out.queue = f.queue
  if (f.key !== undefined) out.key = f.key
  if (f.owner === null) out.no_owner = "true"
  else if (f.owner !== undefined) out.owner = f.owner
  if (f.createdFrom) out.created_from = f.createdFrom.toISOString()
  if (f.createdTo) out.created_to = f.createdTo.toISOString()
  if (f.finishedFrom) out.finished_from = f.finishedFrom.toISOString()
  if (f.finishedTo) out.finished_to = f.finishedTo.toISOString()
  if (f.errorContains !== undefined) out.error = f.errorContains
  if (f.ids) out.ids = f.ids.join(",")
  return out
}

/**
 * A schedule action from a body: `{ "action": "pauseSchedule" | "resumeSchedule" | "triggerSchedule" }`.
 *
 * @since 0.2.0
 * @category parsing
 */
export const scheduleAction = (body: Input, issues: Array<Issue>): ScheduleAction | undefined => {
  const name = body.action
  if (typeof name === "string" && (scheduleActions as ReadonlyArray<string>).includes(name)) return name as ScheduleAction
  issues.push({ path: ["action"], message: `Expected one of ${scheduleActions.join(", ")}` })
  return undefined
}

/**
 * An opaque page cursor: the keyset position, base64url JSON.
 *
 * @since 0.2.0
 * @category parsing
 */
export const encodeCursor = (c: AdminStore.AdminCursor): string =>
  Buffer.from(JSON.stringify([c.at.getTime(), c.id])).toString("base64url")

const decodeCursor = (s: string): AdminStore.AdminCursor | undefined => {
  try {
    const v: unknown = JSON.parse(Buffer.from(s, "base64url").toString("utf8"))
    if (Array.isArray(v) && v.length === 2 && typeof v[0] === "number" && inRange(v[0]) && typeof v[1] === "string" && JobId.isValid(v[1])) {
      return { at: new Date(v[0] as number), id: v[1] }
    }
  } catch {
    // fall through
  }
  return undefined
}

/** The fields of a list request besides its filter's. */
const listFields: ReadonlyArray<string> = ["sort", "order", "limit", "cursor"]

/**
 * A list request: a filter plus `sort` (createdAt, completedAt, runAt),
 * `order` (asc, desc), `limit` (1–500, default 50), `cursor`. Any other
 * field is an issue naming it.
 *
 * @since 0.2.0
 * @category parsing
 */
export const listRequest = (input: Input): Result<AdminStore.AdminListRequest> => {
  const issues: Array<Issue> = []
  const f = filter(input, issues, listFields)
  const sort = input.sort ?? "createdAt"
  if (sort !== "createdAt" && sort !== "completedAt" && sort !== "runAt") {
    issues.push({ path: ["sort"], message: "Expected createdAt, completedAt or runAt" })
  }
  const order = input.order ?? "desc"
  if (order !== "asc" && order !== "desc") issues.push({ path: ["order"], message: "Expected asc or desc" })
  const limit = input.limit === undefined ? 50 : Number(input.limit)
  if (!Number.isInteger(limit) || limit < 1 || limit > 500) {
    issues.push({ path: ["limit"], message: "Expected an integer between 1 and 500" })
  }
  let cursor: AdminStore.AdminCursor | undefined
  if (input.cursor !== undefined && input.cursor !== "") {
    cursor = typeof input.cursor === "string" ? decodeCursor(input.cursor) : undefined
    if (!cursor) issues.push({ path: ["cursor"], message: "Expected a cursor returned by a previous page" })
  }
  if (issues.length > 0) return { ok: false, issues }
  return {
    ok: true,
    value: { filter: f, sort: sort as AdminStore.AdminSort, order: order as "asc" | "desc", limit, cursor }
  }
}

/**
 * An action from a body: `{ "action": "retry" | "cancel" | "delete" | "runNow" | "setPriority", "priority"?: n }`.
 *
 * @since 0.2.0
 * @category parsing
 */
export const action = (body: Input, issues: Array<Issue>): AdminStore.AdminAction | undefined => {
  const name = body.action
  if (typeof name !== "string" || !(jobActions as ReadonlyArray<string>).includes(name)) {
    issues.push({ path: ["action"], message: `Expected one of ${jobActions.join(", ")}` })
    return undefined
  }
  if (name === "setPriority") {
    const p = body.priority
    if (typeof p !== "number" || !Number.isInteger(p) || Math.abs(p) > 1000) {
      issues.push({ path: ["priority"], message: "Expected an integer between -1000 and 1000" })
      return undefined
    }
    return { _tag: "setPriority", priority: p }
  }
  return { _tag: name as Exclude<JobAction, "setPriority"> }
}
