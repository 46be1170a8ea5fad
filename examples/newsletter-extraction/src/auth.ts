/**
 * Demo authentication, a stand-in for the host's real auth: the bearer token
 * *is* the user name (`Authorization: Bearer ann`). The web page sends the same
 * name in a cookie, since EventSource cannot set headers. Never do this for real.
 */
import type { Context, Next } from "koa"
import { ConsoleInput } from "@jobtrack/adapter-koa"
import type { ConsoleApi } from "@jobtrack/adapter-koa"

export const user = (ctx: Context): string | undefined => {
  const header = ctx.get("authorization")
  const name = header.startsWith("Bearer ") ? header.slice(7).trim() : ctx.cookies.get("demo_user")
  return name && /^[\w.@-]{1,64}$/.test(name) ? name : undefined
}

/** 401 unless a demo user is named. */
export const requireUser = async (ctx: Context, next: Next) => {
  const name = user(ctx)
  if (!name) {
    ctx.status = 401
    ctx.body = { error: { code: "unauthorized", message: "send Authorization: Bearer <user-name>" } }
    return
  }
  ctx.state.user = name
  await next()
}

/**
 * Who may use the operator console at /admin/jobs, the demo's admin auth: the
 * demo users named in ADMIN_USERS (default "admin") may take every action
 * (on jobs and on schedules),
 * those in ADMIN_VIEWERS (default "viewer") may only look; anyone else gets a
 * 404. A real host would check its own admin sessions here.
 */
export const consoleAccess = (ctx: Context): ConsoleApi.Operator | null => {
  const name = user(ctx)
  if (!name) return null
  const list = (v: string | undefined, fallback: string) => (v ?? fallback).split(",").map((s) => s.trim()).filter(Boolean)
  if (list(process.env.ADMIN_USERS, "admin").includes(name)) {
    // every action on jobs, and pause/resume/run now of the hourly re-fetch schedule
    return { actor: name, actions: ConsoleInput.allActions }
  }
  if (list(process.env.ADMIN_VIEWERS, "viewer").includes(name)) return { actor: name, actions: [] }
  return null
}
