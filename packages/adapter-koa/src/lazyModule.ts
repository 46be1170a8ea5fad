/**
 * One loader for the peers that `@jobtrack/adapter-koa` loads when first
 * needed rather than when it is imported (issue 13, item 6): `@koa/router`
 * (`routerModule.ts`) and effect's `Stream` (`streamModule.ts`).
 *
 * - `promise` and `load`, for code that can wait: an `import()`, which joins
 *   any import of the module already in flight in the process;
 * - `now`, for code that cannot (a router is built synchronously): the loaded
 *   module, else the module's ES entry — resolved as an `import` resolves it
 *   from here (`import.meta.resolve`) — required by its path (Node ≥ 20.19
 *   requires ES modules). Node keeps one instance per resolved URL for both,
 *   so this is the instance a host's `import` of the same name gets, never a
 *   second copy (not the package's CommonJS build, which `require(name)`
 *   would pick for a dual package such as @koa/router). While an `import()`
 *   of the module is loading elsewhere Node refuses to require it
 *   (`ERR_REQUIRE_ESM_RACE_CONDITION`; an internal assertion on Node 20):
 *   `now` throws `ImportInFlight` then.
 *
 * @internal
 */
import { Effect } from "effect"
import { ImportInFlight } from "./ImportInFlight.js"

/** A module loaded when first needed. */
export interface Lazy<M> {
  /** The module, loaded if it is not yet (for async code). */
  readonly promise: () => Promise<M>
  /** The module, loaded if it is not yet. */
  readonly load: Effect.Effect<M>
  /** The module now: the loaded one, or required; `ImportInFlight` while an import of it is loading. */
  readonly now: () => M
}

/** Node's refusals to require an ES module that an `import()` is still loading. */
const inFlight = (e: unknown): boolean => {
  const { code, message } = (e ?? {}) as { code?: unknown; message?: unknown }
  return code === "ERR_REQUIRE_ESM_RACE_CONDITION" || code === "ERR_REQUIRE_CYCLE_MODULE" ||
    (code === "ERR_INTERNAL_ASSERTION" && typeof message === "string" && message.includes("not yet fully loaded"))
}

/** Require `specifier`'s ES entry, as an import from this module resolves it. */
const requireEsm = (specifier: string): unknown => {
  const { createRequire } = process.getBuiltinModule("node:module")
  const { fileURLToPath } = process.getBuiltinModule("node:url")
  const path = fileURLToPath(import.meta.resolve(specifier))
  try {
    return createRequire(import.meta.url)(path)
  } catch (e) {
    if (inFlight(e)) throw new ImportInFlight({ module: specifier, cause: e })
    throw e
  }
}

/**
 * A module loaded when first needed: `importer` is `() => import(specifier)`
 * (written out, for bundlers and types), `pick` takes what is used from it.
 */
export const lazy = <N, M>(specifier: string, importer: () => Promise<N>, pick: (namespace: N) => M): Lazy<M> => {
  let module: M | undefined
  let loading: Promise<M> | undefined
  const promise = (): Promise<M> =>
    module !== undefined ? Promise.resolve(module) : (loading ??= importer().then((n) => (module ??= pick(n))))
  return {
    promise,
    load: Effect.suspend(() => module !== undefined ? Effect.succeed(module) : Effect.promise(promise)),
    now: () => module ??= pick(requireEsm(specifier) as N)
  }
}
