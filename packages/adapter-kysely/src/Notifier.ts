/**
 * LISTEN/NOTIFY: how a store hears about changes made by other processes.
 * The database sends them (a trigger on the jobs table, at commit); a
 * notifier delivers them to this process.
 *
 * A notification sent while the listening connection is down is lost for
 * good (PostgreSQL keeps none for a session that is not listening). So after
 * every reconnection the notifier says so (`onResync`), and the store tells
 * its readers to re-read what they hold: runners re-check their jobs' cancel
 * requests, watchers re-read their jobs.
 *
 * @since 0.1.0
 */
import { Deferred, Effect } from "effect"
import type { Scope } from "effect"

/**
 * Where the LISTEN connection goes: a connection string, or the `pg` client
 * settings (a structural subset of `pg.ClientConfig`, so that hosts on PGlite
 * need no `pg` type declarations).
 *
 * @since 0.1.0
 * @category models
 */
export type PostgresConnection = string | {
  readonly connectionString?: string | undefined
  readonly host?: string | undefined
  readonly port?: number | undefined
  readonly user?: string | undefined
  readonly password?: string | undefined
  readonly database?: string | undefined
  readonly ssl?: boolean | object | undefined
  readonly application_name?: string | undefined
}

/**
 * What the PGlite notifier uses of a PGlite instance (`PGlite` fits).
 *
 * @since 0.1.0
 * @category models
 */
export interface PgliteListener {
  listen(channel: string, callback: (payload: string) => void): Promise<() => Promise<void>>
  /**
   * Stop `callback` hearing `channel` (the last one stops listening). Used
   * when present: the function `listen` returns unquotes the channel name
   * before its UNLISTEN, which then fails for names such as `jobtrack:x`.
   */
  unlisten?(channel: string, callback?: (payload: string) => void): Promise<void>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Notifier {
  /**
   * Deliver every payload sent on `channel` to `onMessage` until the scope
   * closes, reconnecting after connection losses. Returns once listening (or
   * after a few seconds if the database cannot be reached; it keeps trying).
   * `onResync` is called each time listening resumes after a loss: what was
   * sent in between is gone and must be re-read.
   */
  readonly listen: (
    channel: string,
    onMessage: (payload: string) => void,
    onResync?: () => void
  ) => Effect.Effect<void, never, Scope.Scope>
}

/**
 * No notifications: readers and runners poll.
 *
 * @since 0.1.0
 * @category constructors
 */
export const none: Notifier = { listen: () => Effect.void }

/**
 * The pause before reconnection attempt `failures` (1, 2, …): 100 ms
 * doubling up to 5 s. The count starts again at 1 after every connection
 * that reached LISTEN, so a listener that keeps getting dropped (a proxy or
 * an operator terminating idle sessions) comes back within 100 ms each time.
 */
const reconnectDelayMs = (failures: number): number => Math.min(50 * 2 ** Math.max(1, failures), 5_000)

/**
 * A dedicated `pg` connection that LISTENs (pool connections cannot: they
 * are shared and recycled).
 *
 * @since 0.1.0
 * @category constructors
 */
export const postgres = (config: PostgresConnection): Notifier => ({
  listen: (channel, onMessage, onResync) =>
    Effect.gen(function*() {
      const ready = yield* Deferred.make<void>()
      /** Whether the current session reached LISTEN. */
      let listening = false
      let sessions = 0
      /** `listen` has returned: from now on, anything sent before a LISTEN was missed by a reader. */
      let returned = false
      const { default: driver } = yield* Effect.promise(() => import("pg"))
      const session = Effect.callback<void>((resume) => {
        const client = new driver.Client(typeof config === "string" ? { connectionString: config } : { ...config })
        let over = false
        const finish = () => {
          if (over) return
          over = true
          client.end().catch(() => {})
          resume(Effect.void)
        }
        client.on("notification", (msg) => {
          if (msg.channel === channel && msg.payload !== undefined) onMessage(msg.payload)
        })
        client.on("error", finish)
        client.on("end", finish)
        client
          .connect()
          .then(() => client.query(`LISTEN "${channel.replaceAll("\"", "\"\"")}"`))
          .then(() => {
            if (over) return
            listening = true
            // a reconnection, or a first connection made after `listen` gave up waiting for it
            if (sessions++ > 0 || returned) onResync?.()
            Deferred.doneUnsafe(ready, Effect.void)
          })
          .catch(finish)
        return Effect.sync(() => {
          over = true
          client.removeAllListeners("end")
          client.on("error", () => {})
          client.end().catch(() => {})
        })
      })
      const reconnecting = Effect.gen(function*() {
        let failures = 0
        while (true) {
          listening = false
          yield* session
          // a session that got to LISTEN was a success: the next drop starts the backoff afresh
          failures = listening ? 1 : failures + 1
          yield* Effect.sleep(reconnectDelayMs(failures))
        }
      })
      yield* Effect.forkScoped(reconnecting)
      yield* Deferred.await(ready).pipe(Effect.timeoutOption("5 seconds"))
      returned = true
    })
})

/**
 * PGlite's own notifications (same process).
 *
 * @since 0.1.0
 * @category constructors
 */
export const pglite = (db: PgliteListener): Notifier => ({
  listen: (channel, onMessage) => {
    const quoted = `"${channel.replaceAll("\"", "\"\"")}"`
    return Effect.acquireRelease(
      Effect.promise(() => db.listen(quoted, onMessage)),
      (unlisten) =>
        Effect.promise(() => (db.unlisten ? db.unlisten(quoted, onMessage) : unlisten()).catch(() => {}))
    ).pipe(Effect.asVoid)
  }
})
