/**
 * Effect's `Schema` and `SchemaIssue` modules, loaded when first needed rather
 * than when `@jobtrack/core` is imported: they link about 75 of effect's files
 * (the largest part of the package's import), and a host whose jobs use
 * another Standard Schema library (Zod, Valibot) never needs them.
 *
 * Whether a value is an Effect Schema is told without them (by the property
 * every Effect Schema carries). A job definition with an Effect Schema starts
 * loading them (`preload`), so that the synchronous validation paths usually
 * find them loaded; until they are, those paths answer "not now" and their
 * callers take the Effect path, which waits for them (`load`).
 *
 * @internal
 */
import { Effect } from "effect"
import type * as SchemaModule from "effect/Schema"
import type * as SchemaIssueModule from "effect/SchemaIssue"

/** The modules, once loaded. */
export interface Modules {
  readonly Schema: typeof SchemaModule
  readonly SchemaIssue: typeof SchemaIssueModule
}

/** The property every Effect Schema has (effect's `Schema.isSchema` checks it). */
const TypeId = "~effect/Schema/Schema"

let modules: Modules | undefined
let loading: Promise<Modules> | undefined

const start = (): Promise<Modules> =>
  loading ??= Promise.all([import("effect/Schema"), import("effect/SchemaIssue")]).then(
    ([Schema, SchemaIssue]) => (modules = { Schema, SchemaIssue })
  )

/** The modules if loaded, else `undefined` (and they start loading). */
export const loaded = (): Modules | undefined => {
  if (modules === undefined) void start().catch(() => {})
  return modules
}

/** Start loading the modules (for a definition that will need them). */
export const preload = (): void => void loaded()

/** The modules, loaded if they are not yet. */
export const load: Effect.Effect<Modules> = Effect.suspend(() =>
  modules !== undefined ? Effect.succeed(modules) : Effect.promise(start)
)

/** A codec's synchronous decoder and encoder (they throw on asynchronous parts). */
export interface SyncCodec {
  readonly decode: ReturnType<typeof SchemaModule.decodeUnknownResult<SchemaModule.Codec<unknown, unknown>>>
  readonly encode: ReturnType<typeof SchemaModule.encodeUnknownResult<SchemaModule.Codec<unknown, unknown>>>
}

const syncCodecs = new WeakMap<SchemaModule.Codec<unknown, unknown>, SyncCodec>()

/**
 * The codec's synchronous decoder and encoder, built once per schema (batches
 * and attempts reuse them); `undefined` until the modules are loaded.
 */
export const syncCodec = (schema: SchemaModule.Codec<unknown, unknown>): SyncCodec | undefined => {
  const m = loaded()
  if (m === undefined) return undefined
  let c = syncCodecs.get(schema)
  if (c === undefined) {
    c = { decode: m.Schema.decodeUnknownResult(schema), encode: m.Schema.encodeUnknownResult(schema) }
    syncCodecs.set(schema, c)
  }
  return c
}

/** Whether `u` is an Effect Schema, without loading the Schema module. */
export const isSchema = (u: unknown): boolean =>
  (typeof u === "object" || typeof u === "function") && u !== null && TypeId in u
