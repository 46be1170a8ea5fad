/**
 * `@koa/router`, loaded when the first router is built rather than when
 * `@jobtrack/adapter-koa` is imported (issue 13, item 6). Importing it is most
 * of a plain import of the adapter on Node 24: its ES build's
 * `import http from "http"` builds the ES facade of `node:http`, which reads
 * every export and so loads Node's bundled undici. The routers are built
 * synchronously: they take the class through `now` (`lazyModule.ts`), which
 * requires @koa/router's ES entry — the instance a host's own
 * `import Router from "@koa/router"` gets — and throws `ImportInFlight` while
 * an `import()` of it is still loading elsewhere.
 *
 * @internal
 */
import type Router from "@koa/router"
import { lazy } from "./lazyModule.js"
import type { Lazy } from "./lazyModule.js"

/** `@koa/router`'s `Router` class. */
export const RouterClass: Lazy<typeof Router> = lazy("@koa/router", () => import("@koa/router"), (m) => m.default)

/** A new router, with `prefix` if given. */
export const make = (prefix: string | undefined): Router => {
  const R = RouterClass.now()
  return new R(prefix ? { prefix } : {})
}
