/**
 * Errors as the jobs API answers them, `{ "error": { "code", "message", "details"? } }`,
 * and the middleware that turns a thrown {@link HttpError} into that answer.
 * Anything else is logged and answered as a bare 500 (no message, no stack).
 */
import type { Context, Next } from "koa"

export class HttpError extends Error {
  readonly status: number
  readonly code: string
  readonly details: unknown
  constructor(status: number, code: string, message: string, details?: unknown) {
    super(message)
    this.status = status
    this.code = code
    this.details = details
  }
}

export const answerErrors = async (ctx: Context, next: Next) => {
  try {
    await next()
  } catch (e) {
    if (!(e instanceof HttpError)) throw e
    ctx.status = e.status
    ctx.body = { error: { code: e.code, message: e.message, ...(e.details ? { details: e.details } : {}) } }
  }
}
