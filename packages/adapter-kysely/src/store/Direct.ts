/**
 * The hot statements sent straight to a `pg` pool, past Kysely's executor.
 *
 * `postgres()` builds its pool and its Kysely itself (no host plugins, no
 * host logging), so for the fixed-text statements of the claim loop and the
 * completion batcher (`Context.send`) it hands the store the pool's own path:
 * a connection from the pool, the statement, the connection back. Kysely's
 * executor does the same with several layers of async functions and their
 * allocations per call around it (issue 13, item 3). A store built by the host
 * on its own Kysely (`KyselyStore.make`), and PGlite, send everything through
 * Kysely as before; statements inside a transaction always do.
 *
 * A statement whose Effect is interrupted while it waits for a connection
 * (the pool is busy) is not sent: the connection goes back to the pool
 * unused. One already sent runs to its end (the database does not know the
 * Effect was interrupted); callers that must not lose its outcome, as the
 * runner's claim loop, do not interrupt it.
 *
 * @internal
 */
import type { Kysely } from "kysely"
import type pg from "pg"
import * as Positional from "./Positional.js"

/**
 * Send one statement with its parameters on a connection of the pool; its
 * rows. Not sent if `signal` aborted before a connection was free.
 */
export interface Direct {
  readonly query: <A>(text: string, parameters: ReadonlyArray<unknown>, signal?: AbortSignal) => Promise<ReadonlyArray<A>>
  /**
   * The same for a statement with fixed result columns (`Positional.ts`):
   * no row description asked for, each row made its value by `build` from
   * its fields parsed by `columns`' types.
   */
  readonly positional?: <A>(
    text: string,
    parameters: ReadonlyArray<unknown>,
    columns: Positional.Columns,
    build: Positional.Build<A>,
    signal?: AbortSignal
  ) => Promise<ReadonlyArray<A>>
}

/** What `register` reads of the `pg` module beyond its types: its value mapper (`pg.utils`, untyped). */
export interface Driver {
  readonly utils?: { readonly prepareValue?: (value: unknown, index: number) => unknown }
}

const directs = new WeakMap<Kysely<unknown>, Direct>()

/** `run` on a connection of `pool`, given back after it, failed or not; not run if `signal` aborted first. */
const onConnection = <A>(
  pool: pg.Pool,
  signal: AbortSignal | undefined,
  run: (client: pg.PoolClient) => Promise<A>
): Promise<A> =>
  new Promise((resolve, reject) => {
    pool.connect((error, client, release) => {
      if (error || client === undefined) return reject(error)
      // interrupted while it waited for the connection: never sent
      if (signal?.aborted) {
        release()
        return reject(signal.reason)
      }
      // as Kysely's PostgresDriver: the connection goes back to the pool after the statement, failed or not
      run(client).then(
        (result) => {
          release()
          resolve(result)
        },
        (e: unknown) => {
          // a server's error leaves the connection usable; anything else (a driver-side throw, a
          // lost socket) may leave it mid-statement: destroyed, never handed to the next caller
          release(isServerError(e) ? undefined : (e instanceof Error ? e : new Error(String(e))))
          reject(e)
        }
      )
    })
  })

/** An error the server sent (pg's `DatabaseError`: it has a severity), after which the connection is ready again. */
const isServerError = (e: unknown): boolean => typeof e === "object" && e !== null && "severity" in e

/**
 * Register `pool`'s direct path for the store that will be built on `db` (a
 * Kysely over that pool): `types` are the pool's type parsers, `valueMapper`
 * pg's own (`pg.utils.prepareValue`; without it, no positional path).
 */
export const register = (
  db: Kysely<unknown>,
  pool: pg.Pool,
  types: Positional.TypeParsers,
  valueMapper: ((value: unknown, index: number) => unknown) | undefined
): void => {
  directs.set(db, {
    query: (text, parameters, signal) =>
      onConnection(pool, signal, (client) => client.query(text, parameters as Array<unknown>).then((result) => result.rows)),
    ...(valueMapper === undefined ? {} : {
      positional: (text, parameters, columns, build, signal) =>
        onConnection(pool, signal, (client) => Positional.send(client, types, valueMapper, text, parameters, columns, build))
    })
  })
}

/** The direct path registered for `db`, if any. */
export const of = (db: Kysely<unknown>): Direct | undefined => directs.get(db)
