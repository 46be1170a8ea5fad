/**
 * The adapter loads its heavier peers when first needed rather than when it
 * is imported: `@koa/router` when the first router is built, effect's
 * `Stream` when the first event stream is. A router is built synchronously,
 * so the adapter then requires the module (Node ≥ 20.19 requires ES
 * modules), and gets the very instance that `import "@koa/router"` gives
 * the host. Node cannot do that while an `import()` of the same module is
 * still loading elsewhere in the process: the build fails with this error.
 *
 * @since 0.5.0
 */
import { Data } from "effect"

/**
 * A router (or event stream) was built while an `import()` of the module it
 * needs was still loading — typically route modules imported in parallel (a
 * `Promise.all` of their `import()`s), one of which imports `@koa/router`
 * and another builds jobtrack's router as it loads. Nothing is broken: the
 * pending import finishes normally, and building again once it has works.
 * To avoid it, import the module before building: `import "@koa/router"` in
 * the module that builds the router, or `await import("@koa/router")` first.
 *
 * @example
 * ```ts
 * import { ImportInFlight, jobsRouter } from "@jobtrack/adapter-koa"
 *
 * try {
 *   app.use(jobsRouter(jobs, { owner }).routes())
 * } catch (e) {
 *   if (e instanceof ImportInFlight) {
 *     await import(e.module) // the pending import, now finished
 *     app.use(jobsRouter(jobs, { owner }).routes())
 *   } else throw e
 * }
 * ```
 * @since 0.5.0
 * @category errors
 */
export class ImportInFlight extends Data.TaggedError("ImportInFlight")<{
  /** The module's specifier: `"@koa/router"` or `"effect/Stream"`. */
  readonly module: string
  /** Node's error (`ERR_REQUIRE_ESM_RACE_CONDITION` on Node 24; an internal assertion on Node 20). */
  readonly cause: unknown
}> {
  override get message() {
    return `${this.module} is still being loaded by an import() that has not finished, and jobtrack needs it now: ` +
      `import it before building jobtrack's routers (import "${this.module}" in the module that builds them, or await import("${this.module}") first)`
  }
}
