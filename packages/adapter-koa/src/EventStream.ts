/**
 * What `GET /:id/events` sends, as frames any framework can write as
 * Server-Sent Events. Every view frame carries an `id:` derived from the
 * job's state (its `updatedAt` and a hash of everything the view shows), so
 * equal ids mean an equal state. A client that reconnects with
 * `Last-Event-ID` (browsers send it by themselves) first gets a `resume`
 * frame that says whether it missed anything (`{ "missed": true }` when the
 * state changed since its last frame), then the current view at once, read
 * after the subscription to changes is open, so nothing between that read and
 * the next change can be lost.
 *
 * @since 0.1.0
 */
import type { Stream } from "effect"
import type { JobView } from "@jobtrack/core"
import * as StreamModule from "./streamModule.js"

/**
 * One Server-Sent Event.
 *
 * @since 0.1.0
 * @category models
 */
export interface Frame {
  readonly event: "job" | "resume"
  /** For `job` frames: the state's id, what a client sends back as `Last-Event-ID`. */
  readonly id?: string
  readonly data: unknown
}

/** FNV-1a, 32 bits: a short, stable digest (not a security boundary: ids are only compared). */
const fnv1a = (text: string): string => {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193) >>> 0
  }
  return h.toString(16).padStart(8, "0")
}

/**
 * The event id of a job's state: `<updatedAt ms>-<digest of the shown fields>`.
 *
 * @example
 * ```ts
 * eventId(view) // "1764497125120-9f3a01c2"
 * ```
 * @since 0.1.0
 * @category constructors
 */
export const eventId = (job: JobView): string =>
  `${job.updatedAt.getTime()}-${
    fnv1a(JSON.stringify([
      job.status, job.progress, job.progressMessage, job.errorMessage, job.attempts, job.queuePosition, job.queuePositionCapped,
      job.cancelRequested, job.nextRetryAt?.getTime() ?? null, job.completedAt?.getTime() ?? null,
      job.steps?.map((s) => [s.status, s.attempts]) ?? null
    ]))
  }`

/**
 * Every stream of a job woken by one change gets the same view object (the
 * change hub's shared read): its frame, and the frame's text, are made once
 * for all of them (500 streams: one `JSON.stringify`, not 500).
 */
const jobFrames = new WeakMap<JobView, { readonly present: (job: JobView) => unknown; readonly frame: Frame }>()
const texts = new WeakMap<Frame, string>()

/**
 * The `job` frame of a view. The streams woken by one change share one view
 * object, and so one frame and one text (see {@link encode}).
 *
 * @example
 * ```ts
 * const frame = frameOf(view, WireView.fromView) // { event: "job", id: "1764497125120-9f3a01c2", data: { … } }
 * ```
 * @since 0.2.0
 * @category constructors
 */
export const frameOf = (view: JobView, present: (job: JobView) => unknown): Frame => {
  const cached = jobFrames.get(view)
  if (cached !== undefined && cached.present === present) return cached.frame
  const frame: Frame = { event: "job", id: eventId(view), data: present(view) }
  jobFrames.set(view, { present, frame })
  return frame
}

/**
 * The frames for a stream of views: one `job` frame per view; on a resume
 * (`lastEventId` given), a `resume` frame before the first.
 *
 * @since 0.1.0
 * @category constructors
 */
export const frames = <E>(
  views: Stream.Stream<JobView, E>,
  present: (job: JobView) => unknown,
  lastEventId: string | undefined
): Stream.Stream<Frame, E> =>
  StreamModule.stream().mapAccum(views, () => true, (first, view): readonly [boolean, ReadonlyArray<Frame>] => {
    const frame = frameOf(view, present)
    return [
      false,
      first && lastEventId !== undefined
        ? [{ event: "resume", data: { missed: frame.id !== lastEventId } }, frame]
        : [frame]
    ]
  })

/**
 * A frame as text on the wire.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encode = (frame: Frame): string => {
  let text = texts.get(frame)
  if (text === undefined) {
    text = `${frame.id === undefined ? "" : `id: ${frame.id}\n`}event: ${frame.event}\ndata: ${JSON.stringify(frame.data)}\n\n`
    texts.set(frame, text)
  }
  return text
}
