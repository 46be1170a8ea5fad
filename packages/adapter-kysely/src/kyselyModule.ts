/**
 * Kysely, loaded when first needed rather than with the package (issue 13,
 * item 6): a plain import of `@jobtrack/adapter-kysely` links none of kysely's
 * ~255 files. The connections (`postgres`, `pglite`), the store and the
 * migrations load it (`load`) before they run SQL; the store's modules use
 * `sql` from here, which calls kysely's `sql` once it is loaded. Should
 * kysely be needed before any of them ran (a host building its own `Kysely`
 * on a `PgliteDialect`, which has then imported kysely itself), `kysely()`
 * requires it synchronously (Node ≥ 20.19 requires ES modules).
 *
 * @internal
 */
import { createRequire } from "node:module"
import type * as Kysely from "kysely"

let loaded: typeof Kysely | undefined
let loading: Promise<typeof Kysely> | undefined

/** Load kysely (once); later calls return the same promise. */
export const load = (): Promise<typeof Kysely> =>
  loading ??= import("kysely").then((module) => (loaded = module))

/** Kysely's module: the loaded one, or required now. */
export const kysely = (): typeof Kysely =>
  loaded ??= createRequire(import.meta.url)("kysely") as typeof Kysely

const bind = (value: unknown, self: object) => typeof value === "function" ? value.bind(self) : value

/**
 * Kysely's `sql` tag, bound to kysely when first called: `sql\`…\``,
 * `sql.raw(…)`, `sql.join(…)`, and the rest of `Sql`.
 */
export const sql: Kysely.Sql = new Proxy((() => {}) as unknown as Kysely.Sql, {
  apply: (_target, self, args) => Reflect.apply(kysely().sql, self, args),
  get: (_target, key) => bind(Reflect.get(kysely().sql, key), kysely().sql)
})
