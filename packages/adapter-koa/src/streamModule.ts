/**
 * Effect's `Stream` module, loaded when first needed rather than when
 * `@jobtrack/adapter-koa` is imported (issue 13, item 6): it links 18 of
 * effect's files, the largest part of a plain import after `effect/Effect`
 * itself. The routers load it when they serve a stream (`load`, `promise`).
 * `EventStream.frames` and `EventFanout.frames`, which return a stream at
 * once, take the loaded module, or require it (`now`, see `lazyModule.ts`).
 *
 * @internal
 */
import type * as StreamModule from "effect/Stream"
import { lazy } from "./lazyModule.js"

/** `effect/Stream`. */
export const Stream = lazy("effect/Stream", () => import("effect/Stream"), (m): typeof StreamModule => m)
