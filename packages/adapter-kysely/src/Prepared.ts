/**
 * Named prepared statements for the store's hottest statements (the claim,
 * the completions, the failure, the heartbeat, the progress write, the get
 * by id, a job's view and a keyless enqueue outside a host transaction), on
 * the `pg` pools jobtrack opens.
 *
 * Kysely sends every statement unnamed, so PostgreSQL parses, analyses and
 * plans the claim's `select … from claim(…)` and the completion's
 * `select … from complete_many(…)` again at every call: 5–9 % of the
 * database's CPU for each (measured in lockstep, docs/benchmarks.md
 * "Per-job database cost (session 6)"). A statement whose text starts with
 * `marker` is sent instead as a named statement (one name per text, parsed
 * once per connection; PostgreSQL re-plans it by itself when the schema
 * changes). Any other statement, and every statement on a connection the
 * host made, goes as before: the marker is only a comment.
 *
 * A host that builds its own pool for `KyselyStore.make` can do the same
 * with `pool.on("connect", Prepared.install)`.
 *
 * A marked statement names its result columns (never `select *` or
 * `returning *`): a prepared statement whose result gains a column when a
 * migration adds one to `jobs` fails on the connections that prepared it
 * before ("cached plan must not change result type"); named columns keep
 * its result as it was (`prepared.test.ts`).
 *
 * Named statements live on the server's session, and a connection recovers
 * from losing them (`prepared.test.ts`), retrying the failed call once,
 * unnamed:
 *
 * - 26000 "prepared statement … does not exist" or 42P05 "… already exists":
 *   a pooler in transaction mode without prepared-statement support
 *   (PgBouncer before 1.21, or 1.21+ with `max_prepared_statements = 0`,
 *   Supavisor in transaction mode) switched the server session under the
 *   client. The client stops preparing for good: its marked statements go
 *   unnamed from then on.
 * - 0A000 "cached plan must not change result type" (a migration changed a
 *   column's type): `DEALLOCATE` the name on the connection and forget it in
 *   pg's own cache (`connection.parsedStatements`, a pg internal, used only
 *   where present); the next call prepares it afresh.
 *
 * The retry happens only outside an explicit transaction: there the error
 * (raised at parse, bind or plan revalidation, before any row is touched)
 * aborted nothing but the statement's own implicit transaction. Inside one
 * (pg's `getTransactionStatus()` is not `"I"`, or pg is too old to say),
 * the error has aborted the transaction, so it is rethrown as pg would, and
 * the call after the rollback recovers (it meets the same error, outside).
 * pg rejects the call at the server's error, around its ready-for-query: the
 * status read is the one the call started in or the one after its error,
 * `"I"` in both only outside a transaction. Any other 0A000 of a marked
 * statement costs one needless re-prepare, nothing more. `preparedStatements: false` on
 * `postgres()` still turns preparing off altogether.
 *
 * @since 0.2.0
 */
import type pg from "pg"

/**
 * The comment a hot statement starts with.
 *
 * @since 0.2.0
 * @category constants
 */
export const marker = "/* jobtrack:prepared */ "

/**
 * One name per marked text, derived from the text alone (a 53-bit hash): the
 * same name means the same statement in every process and version, so a
 * pooler that hands the client a session another process prepared on can
 * answer "does not exist" or "already exists", never run another statement
 * under the name the client expects.
 */
const names = new Map<string, string>()

const nameOf = (text: string): string => {
  let name = names.get(text)
  if (name === undefined) {
    // cyrb53 (public domain): two 32-bit multiply-xorshift lanes
    let h1 = 0xdeadbeef
    let h2 = 0x41c6ce57
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i)
      h1 = Math.imul(h1 ^ c, 2654435761)
      h2 = Math.imul(h2 ^ c, 1597334677)
    }
    h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909)
    h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909)
    name = `jobtrack_${(4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(36)}`
    names.set(text, name)
  }
  return name
}

/**
 * Send this client's marked statements as named prepared statements.
 *
 * @example
 * ```ts
 * pool.on("connect", (client) => Prepared.install(client))
 * ```
 * @since 0.2.0
 * @category constructors
 */
export const install = (client: pg.ClientBase): void => {
  const query = client.query as (...args: Array<unknown>) => Promise<unknown>
  states.set(client, { prepare: true, query })
  client.query = function(...args: Array<unknown>) {
    const [text, values] = args
    // Kysely's form: (text, parameters), and nothing else
    if (!(args.length === 2 && typeof text === "string" && text.startsWith(marker) && Array.isArray(values))) {
      return query.apply(client, args)
    }
    return withName(client, text, (name) =>
      name === undefined ? query.call(client, text, values) : named(client, query, name, text, values))
  } as typeof client.query
}

/** A client's preparing: off once its server session proved not to be its own; pg's `query` before `install`. */
interface State {
  prepare: boolean
  readonly query: (...args: Array<unknown>) => Promise<unknown>
}

const states = new WeakMap<pg.ClientBase, State>()

/**
 * Send the marked statement `text` on `client` with `send`: under its name
 * when the client prepares (`install`), else unnamed (`send(undefined)`),
 * and recover from a lost or stale name as described above (the retry is
 * `send(undefined)`). For the store's own submittables (`store/Positional.ts`).
 *
 * @internal
 */
export const withName = <A>(
  client: pg.ClientBase,
  text: string,
  send: (name: string | undefined) => Promise<A>
): Promise<A> => {
  const state = states.get(client)
  if (state === undefined || !state.prepare) return send(undefined)
  const name = nameOf(text)
  return send(name).catch((error: unknown) => {
    const code = (error as { code?: unknown } | null)?.code
    if (code === "26000" || code === "42P05") state.prepare = false
    else if (code !== "0A000") throw error
    if (!idle(client)) throw error
    if (code !== "0A000") return send(undefined)
    return state.query.call(client, `deallocate "${name}"`).catch(() => undefined).then(() => {
      forget(client, name)
      return send(undefined)
    })
  })
}

/** pg's `Query`, as its `Client` exports it (`Client.Query`); absent on other clients. */
type QueryClass = new(text: string, values: Array<unknown>) => {
  name?: string
  callback?: (error: Error | null, result: unknown) => void
}

/**
 * `text` as the named statement `name`. With pg's own `Query` the query is
 * made from the text and values and named after: pg copies a query config
 * given as an object property by property (`cloneQueryConfig`, a few µs per
 * call); any other client gets the config object.
 */
const named = (
  client: pg.ClientBase,
  query: (...args: Array<unknown>) => Promise<unknown>,
  name: string,
  text: string,
  values: Array<unknown>
): Promise<unknown> => {
  const Query = (client.constructor as { Query?: QueryClass }).Query
  if (typeof Query !== "function") return query.call(client, { name, text, values })
  return new Promise((resolve, reject) => {
    const q = new Query(text, values)
    q.name = name
    q.callback = (error, result) => (error ? reject(error) : resolve(result))
    query.call(client, q)
  })
}

/** Outside any explicit transaction, as pg last heard from the server (unknown on a pg without the method: no). */
const idle = (client: pg.ClientBase): boolean => {
  const status = (client as { getTransactionStatus?: () => unknown }).getTransactionStatus
  return typeof status === "function" && status.call(client) === "I"
}

/** Drop a name from pg's record of the statements parsed on this connection (a pg internal: only if present). */
const forget = (client: pg.ClientBase, name: string): void => {
  const connection = (client as { connection?: { parsedStatements?: Record<string, unknown> } }).connection
  if (connection?.parsedStatements !== undefined) delete connection.parsedStatements[name]
}
