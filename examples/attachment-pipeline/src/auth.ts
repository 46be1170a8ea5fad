/**
 * Demo authentication, a stand-in for the host's real auth: the bearer token
 * *is* the user name (`Authorization: Bearer ann`). Admins are the names listed
 * in ADMIN_USERS (comma-separated, default `ops`). Never do this for real.
 */
import type { Context, Next } from "koa"
import { HttpError } from "./http.ts"

const admins = new Set((process.env.ADMIN_USERS ?? "ops").split(",").map((s) => s.trim()).filter(Boolean))

/** The caller's name, or undefined when the request names none (or an invalid one). */
export const user = (ctx: Context): string | undefined => {
  const h = ctx.get("authorization")
  const name = h.startsWith("Bearer ") ? h.slice(7).trim() : ""
  return /^[\w.@-]{1,64}$/.test(name) ? name : undefined
}

/** 401 unless a user is named; the name is then `ctx.state.user`. */
export const requireUser = async (ctx: Context, next: Next) => {
  const name = user(ctx)
  if (!name) throw new HttpError(401, "unauthorized", "send Authorization: Bearer <user-name>")
  ctx.state.user = name
  await next()
}

/** 403 unless the (signed-in) caller is an admin. */
export const requireAdmin = async (ctx: Context, next: Next) => {
  if (!admins.has(ctx.state.user as string)) throw new HttpError(403, "forbidden", "admins only")
  await next()
}
