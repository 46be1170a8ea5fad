/**
 * The event streams of one job, in one process, share one watch of it: one
 * `Tracker.watch` (so one read of the job per change, through the process's
 * change hub), one frame and one text per change, written to every stream
 * in one synchronous pass. Before it, each stream ran its own watch in its
 * own fiber: 500 streams of a job were 500 fibers woken, each taking from
 * its queue, awaiting the shared read and pulling its frame through its own
 * stream (issue 13, item 5).
 *
 * A stream joins with the view its request read (the owner check's read):
 * its first frame is that view, or the shared watch's latest if that is as
 * new, so it never starts older than what the store held when it asked. The
 * shared watch reads one view at a time, so only its first frame after the
 * join can come from a read begun before the request's: that one frame is
 * not sent when it is older than the first view (by `updatedAt`, unless it
 * is final); after it, every frame is sent but a repeat of the first view. `updatedAt`
 * comes from the clocks of the processes that wrote the job, so with clock
 * skew a newer view can look older: it decides one frame at most, never the
 * final one, and not at all for a stream that starts the job's watch (its
 * first read begins after the join). Owner
 * isolation is the request's: a stream joins a job's watch only after its
 * caller was shown to own the job, and the watch carries that job's views
 * only.
 *
 * @since 0.2.0
 */
import { Effect, Fiber, Queue } from "effect"
import type { Stream } from "effect"
import { Job } from "@jobtrack/core"
import type { JobView, Tracker } from "@jobtrack/core"
import * as EventStream from "./EventStream.js"
import * as StreamModule from "./streamModule.js"

/**
 * Where one stream's frames go: written in the shared pass, so a sink must
 * not block (write to a socket, or offer to an unbounded queue).
 *
 * @since 0.2.0
 * @category models
 */
export interface Sink {
  /** One frame to send (its text is `EventStream.encode(frame)`, made once for every stream). */
  readonly frame: (frame: EventStream.Frame) => void
  /** The job's stream is over: terminal, deleted, or the store failed. */
  readonly end: () => void
}

/**
 * @since 0.2.0
 * @category models
 */
export interface EventFanout {
  /**
   * Join the shared watch of `view`'s job (`view`: the job as the request
   * read it, after checking its owner). The sink gets a `resume` frame first
   * when `lastEventId` is given, then the current view at once, then one
   * frame per change. Returns the function that leaves.
   */
  readonly join: (view: JobView, lastEventId: string | undefined, sink: Sink) => () => void
  /** How many jobs have a shared watch running (streams are counted once per job). */
  readonly watches: () => number
}

interface Member {
  readonly sink: Sink
  /**
   * Until the shared watch has caught up with this stream's first view: its
   * id (not sent twice) and, for the watch's first frame after the join when
   * the watch was running already (a read of it may have begun before the
   * request's), its `updatedAt` (that frame, if older and not final, is not sent).
   */
  floor: { readonly at: number | undefined; readonly id: string } | undefined
}

interface Shared {
  readonly members: Set<Member>
  latest: { readonly view: JobView; readonly frame: EventStream.Frame } | undefined
  fiber: Fiber.Fiber<void, never> | undefined
  over: boolean
}

/**
 * The shared watches over `tracker`, with frames shaped by `present`.
 *
 * @example
 * ```ts
 * const fanout = EventFanout.make(tracker, WireView.fromView)
 * const leave = fanout.join(view, undefined, { frame: (f) => res.write(EventStream.encode(f)), end: () => res.end() })
 * res.once("close", leave)
 * ```
 * @since 0.2.0
 * @category constructors
 */
export const make = (tracker: Pick<Tracker.TrackerShape, "watch">, present: (job: JobView) => unknown): EventFanout => {
  const shared = new Map<string, Shared>()

  /** A stream's first frame, after its `resume` frame when it reconnected. */
  const send = (member: Member, lastEventId: string | undefined, frame: EventStream.Frame) => {
    if (lastEventId !== undefined) {
      member.sink.frame({ event: "resume", data: { missed: frame.id !== lastEventId } })
    }
    member.sink.frame(frame)
  }

  const end = (member: Member) => {
    try {
      member.sink.end()
    } catch {
      // its client is gone already
    }
  }

  /** A stream leaves; the job's watch stops with the last one. */
  const drop = (id: string, s: Shared, member: Member) => {
    if (!s.members.delete(member) || s.members.size > 0 || s.over) return
    if (shared.get(id) === s) shared.delete(id)
    s.over = true
    if (s.fiber) Effect.runFork(Fiber.interrupt(s.fiber))
  }

  /** A sink that throws (its client is gone) leaves; the others go on. */
  const deliver = (id: string, s: Shared, member: Member, frame: EventStream.Frame) => {
    try {
      member.sink.frame(frame)
    } catch {
      end(member)
      drop(id, s, member)
    }
  }

  /** One change: its frame (and text) once, then every stream in one pass. */
  const publish = (id: string, s: Shared, view: JobView) => {
    const frame = EventStream.frameOf(view, present)
    s.latest = { view, frame }
    const at = view.updatedAt.getTime()
    const final = Job.isTerminal(view.status)
    for (const member of s.members) {
      const floor = member.floor
      if (floor !== undefined) {
        if (frame.id === floor.id) {
          member.floor = undefined
          continue
        }
        // the one read that may have begun before the request's: older is not sent, and is the only one
        if (floor.at !== undefined && at < floor.at && !final) {
          member.floor = { at: undefined, id: floor.id }
          continue
        }
        member.floor = undefined
      }
      deliver(id, s, member, frame)
    }
  }

  const finish = (id: string, s: Shared) => {
    s.over = true
    if (shared.get(id) === s) shared.delete(id)
    for (const member of s.members) end(member)
    s.members.clear()
  }

  /** The job's watch, run once the first stream has joined (it may end at once). */
  const start = (id: string, s: Shared) => {
    // `Stream` loaded on first use (a plain import of the adapter does not link it)
    s.fiber = Effect.flatMap(StreamModule.load, (Streams) =>
      tracker.watch(id).pipe(Streams.runForEach((view) => Effect.sync(() => publish(id, s, view))))).pipe(
      // deleted, or the store failed: the streams end (a client reconnects and is answered then)
      Effect.ignore,
      Effect.ensuring(Effect.sync(() => finish(id, s))),
      Effect.runFork
    )
  }

  const join = (view: JobView, lastEventId: string | undefined, sink: Sink): (() => void) => {
    const member: Member = { sink, floor: undefined }
    let s = shared.get(view.id)
    if (s?.latest !== undefined && s.latest.view.updatedAt.getTime() >= view.updatedAt.getTime()) {
      send(member, lastEventId, s.latest.frame)
    } else {
      const frame = EventStream.frameOf(view, present)
      send(member, lastEventId, frame)
      if (Job.isTerminal(view.status)) {
        sink.end()
        return () => {}
      }
      // a watch not yet started reads after this join: only its repeat of this view is skipped
      member.floor = { at: s?.fiber !== undefined ? view.updatedAt.getTime() : undefined, id: frame.id! }
    }
    if (s === undefined) {
      s = { members: new Set(), latest: undefined, fiber: undefined, over: false }
      shared.set(view.id, s)
    }
    const joined = s
    joined.members.add(member)
    if (joined.fiber === undefined) start(view.id, joined)
    return () => drop(view.id, joined, member)
  }

  return { join, watches: () => shared.size }
}

/**
 * The frames of one stream, as a `Stream` (for a framework that writes
 * streams): the same shared watch as {@link EventFanout.join}. An Effect that
 * gives the stream once effect's `Stream` module is loaded: a plain import of
 * the adapter does not load it, and it is imported here (an `import()`, which
 * joins one in flight elsewhere), never required synchronously — Node refuses
 * to require an ES module that an `import()` is still loading (a tracker being
 * built, a host's route modules imported in parallel), and no stream can be
 * returned at once without the module.
 *
 * @example
 * ```ts
 * // `view`: the job as the request read it, after checking its owner
 * const text = Stream.unwrap(EventFanout.frames(fanout, view, undefined)).pipe(Stream.map(EventStream.encode))
 * ```
 * @since 0.2.0
 * @category constructors
 */
export const frames = (
  fanout: EventFanout,
  view: JobView,
  lastEventId: string | undefined
): Effect.Effect<Stream.Stream<EventStream.Frame>> =>
  Effect.map(StreamModule.load, (Streams) =>
    Streams.callback<EventStream.Frame>((queue) =>
      Effect.acquireRelease(
        Effect.sync(() =>
          fanout.join(view, lastEventId, {
            frame: (frame) => void Queue.offerUnsafe(queue, frame),
            end: () => void Queue.endUnsafe(queue)
          })
        ),
        (leave) => Effect.sync(leave)
      )))
