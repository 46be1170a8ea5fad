/**
 * The operator console's admin API as framework-agnostic handlers (like
 * {@link JobsApi}): each takes plain values and the operator, and answers
 * `{ status, body }`. Reads see every owner's jobs; actions need the
 * operator's permission (403 otherwise) and are written to the audit trail.
 * Errors are the HTTP contract's (`{ error: { code, message, details } }`):
 * 400 naming every problem, 403, 404, 409; a store that is down is 503; no
 * error carries a path or a stack.
 *
 * `make` assembles the parts under `console/`: the reads (`Reads.ts`), the
 * actions (`Actions.ts`) and how both answer (`Answer.ts`).
 *
 * @since 0.2.0
 */
import type { JobStoreShape } from "@jobtrack/core"
import { JobId } from "@jobtrack/core"
import type { HttpResponse } from "./HttpError.js"
import { actions } from "./console/Actions.js"
import type { Query } from "./console/Answer.js"
import { reads } from "./console/Reads.js"
import type { ConsoleAction } from "./ConsoleInput.js"

/**
 * Who is operating and what they may do: `actions` empty is read-only.
 *
 * @example
 * ```ts
 * const access = (ctx) => ctx.state.admin ? { actor: ctx.state.admin.email, actions: ConsoleInput.allActions } : null
 * ```
 * @since 0.2.0
 * @category models
 */
export interface Operator {
  /** Written to the audit trail. */
  readonly actor: string
  readonly actions: ReadonlyArray<ConsoleAction>
}

/**
 * @since 0.2.0
 * @category models
 */
export interface ConsoleApiOptions {
  /** Signs CSRF tokens; give the same one to every process (default: random per process). */
  readonly secret?: string | undefined
}

/**
 * @since 0.2.0
 * @category models
 */
export interface ConsoleApi {
  /** The operator, their permissions and their CSRF token. */
  readonly me: (op: Operator) => HttpResponse
  readonly overview: (query: Query, op: Operator) => Promise<HttpResponse>
  readonly series: (query: Query, op: Operator) => Promise<HttpResponse>
  readonly list: (query: Query, op: Operator) => Promise<HttpResponse>
  readonly get: (id: string, op: Operator) => Promise<HttpResponse>
  /** One job: `{ action, priority? }`. */
  readonly act: (id: string, body: unknown, op: Operator) => Promise<HttpResponse>
  /** A selection: `{ action, priority?, ids: [...] }`, at most 500, applied at once. */
  readonly actOnSelection: (body: unknown, op: Operator) => Promise<HttpResponse>
  /**
   * By filter: `{ action, priority?, filter: {...}, all? }`, a tracked bulk job (202 with its id).
   * An empty filter (every job) needs `all: true`; an unknown field, in the body or the filter, is a 400.
   */
  readonly actByFilter: (body: unknown, op: Operator) => Promise<HttpResponse>
  readonly audit: (query: Query, op: Operator) => Promise<HttpResponse>
  /** Whether a mutation carries this operator's token (see {@link ConsoleApi.me}). */
  readonly tokenValid: (token: string | undefined, op: Operator) => boolean
}

export {
  /**
   * The action does not apply to the job in its status (e.g. run now on a completed job).
   *
   * @since 0.2.0
   * @category errors
   */
  NotApplicable
} from "./console/Answer.js"

/** `node:crypto`, taken when first used: loading it is a few ms of CPU that a plain import need not pay. */
const crypto = () => process.getBuiltinModule("node:crypto")

/**
 * Build the handlers over a store.
 *
 * @since 0.2.0
 * @category constructors
 */
export const make = (store: JobStoreShape, options: ConsoleApiOptions = {}): ConsoleApi => {
  const secret = options.secret ?? JobId.make() + JobId.make()
  const tokenFor = (op: Operator) => crypto().createHmac("sha256", secret).update(`console:${op.actor}`).digest("base64url")

  return {
    me: (op) => ({ status: 200, body: { actor: op.actor, actions: op.actions, token: tokenFor(op) } }),

    tokenValid: (token, op) => {
      if (token === undefined) return false
      const a = Buffer.from(token)
      const b = Buffer.from(tokenFor(op))
      return a.length === b.length && crypto().timingSafeEqual(a, b)
    },

    ...reads(store),
    ...actions(store)
  }
}
