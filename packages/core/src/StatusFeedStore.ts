/**
 * The part of the store contract that feeds live views across every job
 * (store rules F1–F2, docs/writing-a-store.md): while a console or dashboard
 * is open, it asks the store to announce every job's status changes, not only
 * those of watched jobs. `JobStore` extends it, so every store implements it.
 *
 * A store whose announcements cost something per write (PostgreSQL: `NOTIFY`
 * holds a global lock through commit) announces nothing extra while nobody
 * asks, and may announce coarsely while someone does: a {@link QueueChanged}
 * ("some job of this queue and type became completed") instead of one change
 * per job, so a batch of completions is one announcement. A coarse
 * announcement may come late (PostgreSQL: within about a second, read from a
 * clock the writes stamp rather than notified), and may be repeated.
 *
 * @since 0.2.0
 */
import type { Effect, Scope } from "effect"
import type { JobStatus } from "./Job.js"
import type { StoreError } from "./JobError.js"

/**
 * Some job of `queue` and `type` moved to `status` (rule F1): a coarse change,
 * announced instead of the job's own `status` change while a feed is open.
 * Readers that hold lists or counts re-read them.
 *
 * @since 0.2.0
 * @category models
 */
export interface QueueChanged {
  readonly kind: "queueChanged"
  readonly queue: string
  readonly type: string
  readonly status: JobStatus
}

/**
 * @since 0.2.0
 * @category models
 */
export interface StatusFeedStoreShape {
  /**
   * Ask for every job's status changes while the scope is open (rule F1): each
   * becomes a change of the job (`kind: "status"`) or a {@link QueueChanged},
   * on `changes`, in every process sharing the store. Registrations of one
   * process may be shared (one per store); a registration of a process that
   * died stops costing anything within a minute (rule F2). Progress changes
   * stay announced only for watched jobs.
   *
   * @example
   * ```ts
   * // while the console's list is open
   * yield* store.watchingAll
   * yield* store.changes.pipe(Stream.runForEach((c) => c.kind === "queueChanged" ? reread : Effect.void))
   * ```
   */
  readonly watchingAll: Effect.Effect<void, StoreError, Scope.Scope>
}
