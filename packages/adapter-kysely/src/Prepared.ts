/**
 * Named prepared statements for the store's hottest statements (the claim,
 * the completions, the failure, the heartbeat, the progress write and the
 * get by id), on the `pg` pools jobtrack opens.
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
 * Named statements live on the server's session: behind a pooler in
 * transaction mode without prepared-statement support (PgBouncer before
 * 1.21), pass `preparedStatements: false` to `postgres()`.
 *
 * @since 0.4.0
 */
import type pg from "pg"

/**
 * The comment a hot statement starts with.
 *
 * @since 0.4.0
 * @category constants
 */
export const marker = "/* jobtrack:prepared */ "

/** One name per marked text, shared by every connection (the texts are a handful per schema). */
const names = new Map<string, string>()

const nameOf = (text: string): string => {
  let name = names.get(text)
  if (name === undefined) {
    name = `jobtrack_${names.size + 1}`
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
 * @since 0.4.0
 * @category constructors
 */
export const install = (client: pg.ClientBase): void => {
  const query = client.query as (...args: Array<unknown>) => unknown
  client.query = function(...args: Array<unknown>) {
    const [text, values] = args
    // Kysely's form: (text, parameters), and nothing else
    return args.length === 2 && typeof text === "string" && text.startsWith(marker) && Array.isArray(values)
      ? query.call(client, { name: nameOf(text), text, values })
      : query.apply(client, args)
  } as typeof client.query
}
