/**
 * When the memory store's delayed jobs become due. A job written with a
 * `runAt` in the future (an enqueue with `runAt`, a retry with a delay, a
 * durable sleep) is noted here with its time; each change subscriber runs
 * `announcer`, which announces such a job as `enqueued` when its time comes
 * (rule 11), so a drained runner claims it then rather than at its next poll.
 *
 * The PostgreSQL store does not: a job that becomes due there is found by the
 * poll (`RunnerOptions.pollInterval`). The memory store knows every due time
 * exactly, so it says when. A note is never removed early: a job cancelled,
 * deleted, claimed or moved to another time meanwhile is skipped when its
 * time comes (a move notes the new time).
 *
 * @internal
 */
import { Clock, Effect } from "effect"
import { isClaimable } from "../../Job.js"
import type { JobRecord } from "../../Job.js"

/** A job's due time as noted. */
interface Entry {
  readonly at: number
  readonly id: string
}

/** The notes: a binary min-heap by time, and the announcers waiting for an earlier time. */
export interface Due {
  readonly heap: Array<Entry>
  readonly waiting: Set<() => void>
}

export const make = (): Due => ({ heap: [], waiting: new Set() })

const less = (a: Entry, b: Entry) => a.at < b.at

/** Note that `job` becomes claimable at its `runAt`, if that is after `now`. */
export const note = (due: Due, job: JobRecord, now: number): void => {
  const at = job.runAt.getTime()
  if (at <= now) return
  const heap = due.heap
  heap.push({ at, id: job.id })
  let i = heap.length - 1
  while (i > 0) {
    const parent = (i - 1) >> 1
    if (!less(heap[i]!, heap[parent]!)) break
    ;[heap[i], heap[parent]] = [heap[parent]!, heap[i]!]
    i = parent
  }
  // the earliest time changed: the announcers sleep until a later one
  if (i === 0) for (const wake of [...due.waiting]) wake()
}

const pop = (heap: Array<Entry>): Entry => {
  const top = heap[0]!
  const last = heap.pop()!
  if (heap.length > 0) {
    heap[0] = last
    let i = 0
    for (;;) {
      const l = 2 * i + 1
      const r = l + 1
      let m = i
      if (l < heap.length && less(heap[l]!, heap[m]!)) m = l
      if (r < heap.length && less(heap[r]!, heap[m]!)) m = r
      if (m === i) break
      ;[heap[i], heap[m]] = [heap[m]!, heap[i]!]
      i = m
    }
  }
  return top
}

/**
 * Announce, forever, each noted job when its time comes, if it is still
 * claimable at that time: one runs per change subscriber, in the
 * subscriber's scope (every subscriber hears the one that takes a note
 * first). Timed by `Clock`, so a `TestClock` moves it.
 */
export const announcer = (
  due: Due,
  jobs: ReadonlyMap<string, JobRecord>,
  announce: (job: JobRecord) => void
): Effect.Effect<never> => {
  const earlier = Effect.callback<void>((resume) => {
    const wake = () => {
      due.waiting.delete(wake)
      resume(Effect.void)
    }
    due.waiting.add(wake)
    return Effect.sync(() => void due.waiting.delete(wake))
  })
  const step = Effect.flatMap(Clock.currentTimeMillis, (now) => {
    while (due.heap.length > 0 && due.heap[0]!.at <= now) {
      const { at, id } = pop(due.heap)
      const job = jobs.get(id)
      if (job !== undefined && job.runAt.getTime() === at && isClaimable(job, now)) announce(job)
    }
    const next = due.heap[0]?.at
    return next === undefined ? earlier : Effect.asVoid(Effect.timeoutOption(earlier, next - now))
  })
  return Effect.forever(step)
}
