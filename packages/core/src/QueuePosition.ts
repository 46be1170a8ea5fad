/**
 * A pending job's place in its queue (store rule 8), bounded: exact for the
 * first {@link cap} places, "more than 1,000" beyond. A store counts the jobs
 * ahead by walking its queue's claim order from the front, so a view costs at
 * most a walk of {@link cap} jobs (or {@link reach} when jobs of groups
 * without room are among them), whatever the queue's length.
 *
 * @example
 * ```ts
 * import { QueuePosition } from "@jobtrack/core"
 *
 * QueuePosition.text({ queuePosition: 3, queuePositionCapped: false }) // "3"
 * QueuePosition.text({ queuePosition: 1001, queuePositionCapped: true }) // "more than 1,000"
 * ```
 *
 * @since 0.2.0
 */

/**
 * Places counted exactly: a job with fewer than `cap` jobs ahead that will
 * start before it has its exact position; beyond, the position is capped.
 *
 * @since 0.2.0
 * @category constants
 */
export const cap = 1_000

/**
 * The most claimable jobs ahead a store looks at: when jobs of groups without
 * room (which do not count) are among the first {@link cap}, it looks further,
 * up to `reach` jobs ahead; past that, the count it has is a lower bound.
 *
 * @since 0.2.0
 * @category constants
 */
export const reach = 10 * cap

/**
 * A pending job's place in its queue. Exact unless `capped`: then the job has
 * more than `position - 1` jobs ahead (`position` is `cap + 1` unless jobs of
 * groups without room filled the walk) and `position` is a lower bound.
 *
 * @since 0.2.0
 * @category models
 */
export interface QueuePosition {
  /** 1 = next to run. */
  readonly position: number
  readonly capped: boolean
}

/**
 * The position from the claimable jobs ahead of a job, in claim order, each
 * saying whether it will start before the job (rule 8: another group's job
 * only while its group has room): what a store's walk computes. Looks at no
 * more than {@link reach} of them.
 *
 * @example
 * ```ts
 * QueuePosition.fromWalk([true, false, true]) // { position: 3, capped: false }
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const fromWalk = (ahead: Iterable<boolean>): QueuePosition => {
  let walked = 0
  let counted = 0
  for (const counts of ahead) {
    if (walked === reach) break
    walked++
    if (counts && ++counted === cap) return { position: cap + 1, capped: true }
  }
  // the walk saw every job ahead only if it stopped short of its reach
  return { position: counted + 1, capped: walked === reach }
}

/**
 * The view fields for a position (null: the job is not pending).
 *
 * @since 0.2.0
 * @category constructors
 */
export const fields = (
  place: QueuePosition | null
): { readonly queuePosition: number | null; readonly queuePositionCapped: boolean } =>
  place === null
    ? { queuePosition: null, queuePositionCapped: false }
    : { queuePosition: place.position, queuePositionCapped: place.capped }

/**
 * The position as a person reads it: `"3"`, `"more than 1,000"`, or `""`
 * when the job is not pending.
 *
 * @since 0.2.0
 * @category formatting
 */
export const text = (view: {
  readonly queuePosition: number | null
  readonly queuePositionCapped: boolean
}): string =>
  view.queuePosition === null
    ? ""
    : view.queuePositionCapped
    ? `more than ${(view.queuePosition - 1).toLocaleString("en")}`
    : String(view.queuePosition)
