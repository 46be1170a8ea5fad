/**
 * Demo authentication, a stand-in for the host's real auth: the bearer token
 * *is* the user name (`Authorization: Bearer ann`). The web page sends the same
 * name in a cookie, since EventSource cannot set headers. Never do this for real.
 */
import type { Context, Next } from "koa"

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
