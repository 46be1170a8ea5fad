/**
 * EventFanout (issue 13, item 5): the event streams of one job share one
 * watch of it, one frame per change (so one serialization: `encode` keeps
 * the text with the frame), written to every stream in one synchronous pass.
 * A tracker whose `watch` we drive shows it without a store or a socket.
 */
import { Cause, Effect, Queue, Stream } from "effect"
import { Job } from "@jobtrack/core"
import type { JobView } from "@jobtrack/core"
import { EventFanout, EventStream, WireView } from "@jobtrack/adapter-koa"
import { assert, describe, it } from "vitest"

const job = (over: Partial<JobView> = {}): JobView => ({
  id: "0195f3c2-1111-7000-8000-000000000001",
  type: "work",
  queue: "default",
  payload: {},
  result: null,
  status: "processing",
  progress: 0,
  progressMessage: null,
  errorMessage: null,
  errors: [],
  attempts: 1,
  maxAttempts: 1,
  priority: 0,
  runAt: new Date(0),
  owner: "ann",
  key: null,
  groupKey: null,
  groupLimit: null,
  lockedBy: "w",
  lockedUntil: null,
  token: 1,
  cancelRequested: false,
  createdAt: new Date(0),
  startedAt: new Date(0),
  completedAt: null,
  nextRetryAt: null,
  updatedAt: new Date(1_000),
  queuePosition: null,
  queuePositionCapped: false,
  ...over
})

/** A tracker whose `watch` emits what the test offers; counts its watches and their ends. */
const driven = () => {
  const counts = { watches: 0, ended: 0 }
  const queues: Array<Queue.Queue<JobView, Cause.Done>> = []
  const tracker = {
    watch: (_id: string) =>
      Stream.unwrap(Effect.map(Queue.unbounded<JobView, Cause.Done>(), (q) => {
        counts.watches++
        queues.push(q)
        // like `Tracker.watch`: ends after a terminal view
        return Stream.fromQueue(q).pipe(
          Stream.takeUntil((v) => Job.isTerminal(v.status)),
          Stream.ensuring(Effect.sync(() => void counts.ended++))
        )
      }))
  }
  /** Emit a view on the latest watch and let its fiber deliver it. */
  const emit = async (view: JobView) => {
    Queue.offerUnsafe(queues.at(-1)!, view)
    await settle()
  }
  return { tracker, counts, emit, queues }
}

/** Until the forked watch has run what is pending (bounded; no timing assumed). */
const settle = async () => {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r))
}

interface Recorder {
  readonly frames: Array<EventStream.Frame>
  ended: boolean
}
const recorder = (): Recorder & EventFanout.Sink => {
  const r: Recorder & EventFanout.Sink = {
    frames: [],
    ended: false,
    frame: (f) => void r.frames.push(f),
    end: () => void (r.ended = true)
  }
  return r
}

describe("EventFanout", () => {
  it("500 streams of a job: one watch, one frame object per change, every stream in one pass", async () => {
    const { tracker, counts, emit } = driven()
    let presented = 0
    const fanout = EventFanout.make(tracker, (v) => (presented++, WireView.fromView(v)))
    const sinks = Array.from({ length: 500 }, () => recorder())
    const leaves = sinks.map((s) => fanout.join(job(), undefined, s))
    await settle()
    assert.strictEqual(counts.watches, 1)
    assert.strictEqual(fanout.watches(), 1)
    // the watch's first view equals what every stream was sent at once: not sent again
    await emit(job())
    assert.isTrue(sinks.every((s) => s.frames.length === 1))

    presented = 0
    await emit(job({ progress: 40, updatedAt: new Date(2_000) }))
    // presented and framed once for 500 streams: they all hold the same frame, so its text is made once
    assert.strictEqual(presented, 1)
    const frame = sinks[0]!.frames[1]!
    assert.strictEqual((frame.data as WireView.WireView).progress, 40)
    assert.isTrue(sinks.every((s) => s.frames.length === 2 && s.frames[1] === frame))
    assert.strictEqual(EventStream.encode(frame), EventStream.encode(sinks[499]!.frames[1]!))

    for (const leave of leaves.slice(1)) leave()
    assert.strictEqual(counts.ended, 0)
    leaves[0]!()
    await settle()
    // the last stream gone, the watch stops
    assert.strictEqual(counts.ended, 1)
    assert.strictEqual(fanout.watches(), 0)
  })

  it("a stream joining with a newer view starts there and is sent nothing older; a late one starts at the shared latest", async () => {
    const { tracker, emit } = driven()
    const fanout = EventFanout.make(tracker, WireView.fromView)
    const first = recorder()
    fanout.join(job({ progress: 10, updatedAt: new Date(1_000) }), undefined, first)
    await emit(job({ progress: 10, updatedAt: new Date(1_000) }))
    // the request read a newer state than the shared watch has seen yet
    const second = recorder()
    fanout.join(job({ progress: 30, updatedAt: new Date(3_000) }), "1-00000000", second)
    assert.deepStrictEqual(second.frames.map((f) => f.event), ["resume", "job"])
    assert.deepStrictEqual(second.frames[0]!.data, { missed: true })
    // a read of the shared watch that began before: older, so not sent to the second stream
    await emit(job({ progress: 20, updatedAt: new Date(2_000) }))
    await emit(job({ progress: 30, updatedAt: new Date(3_000) }))
    await emit(job({ progress: 40, updatedAt: new Date(4_000) }))
    const progress = (r: Recorder) => r.frames.filter((f) => f.event === "job").map((f) => (f.data as WireView.WireView).progress)
    assert.deepStrictEqual(progress(first), [10, 20, 30, 40])
    assert.deepStrictEqual(progress(second), [30, 40])
    // a stream whose request read an older state than the shared latest starts at the latest
    const third = recorder()
    fanout.join(job({ progress: 30, updatedAt: new Date(3_000) }), undefined, third)
    assert.deepStrictEqual(progress(third), [40])
  })

  it("with clock skew (a newer change carrying an earlier updatedAt) a joining stream misses one frame at most, never a later or the final one", async () => {
    const { tracker, emit } = driven()
    const fanout = EventFanout.make(tracker, WireView.fromView)
    const progress = (r: Recorder) => r.frames.filter((f) => f.event === "job").map((f) => (f.data as WireView.WireView).progress)
    // the first stream starts the watch: its reads begin after the join, so none is judged by time
    const first = recorder()
    fanout.join(job({ progress: 10, updatedAt: new Date(5_000) }), undefined, first)
    // the watch's first read: a change since the request's, by a worker whose clock is 4 s behind
    await emit(job({ progress: 20, updatedAt: new Date(1_500) }))
    assert.deepStrictEqual(progress(first), [10, 20])
    await emit(job({ progress: 30, updatedAt: new Date(6_000) }))
    // a second stream joins the running watch with the view its request read, newer than the watch's latest
    const second = recorder()
    fanout.join(job({ progress: 35, updatedAt: new Date(7_000) }), undefined, second)
    // the slow clock's worker goes on: each change is earlier by updatedAt than the second stream's first view
    await emit(job({ progress: 40, updatedAt: new Date(2_000) }))
    await emit(job({ progress: 50, updatedAt: new Date(2_500) }))
    await emit(job({ progress: 60, updatedAt: new Date(2_700) }))
    await emit(job({ status: "completed", progress: 100, updatedAt: new Date(3_000), completedAt: new Date(3_000) }))
    assert.deepStrictEqual(progress(first), [10, 20, 30, 40, 50, 60, 100])
    // the watch's first frame after the join could have been a read begun before the request's: held back;
    // every later one, and the final one, is sent
    assert.deepStrictEqual(progress(second), [35, 50, 60, 100])
    assert.isTrue(first.ended && second.ended)
  })

  it("a skewed read in flight when a stream joins is the only frame held back, and a final one never is", async () => {
    const { tracker, emit } = driven()
    const fanout = EventFanout.make(tracker, WireView.fromView)
    const progress = (r: Recorder) => r.frames.filter((f) => f.event === "job").map((f) => (f.data as WireView.WireView).progress)
    fanout.join(job({ progress: 10, updatedAt: new Date(5_000) }), undefined, recorder())
    await emit(job({ progress: 10, updatedAt: new Date(5_000) }))
    const late = recorder()
    fanout.join(job({ progress: 30, updatedAt: new Date(6_000) }), undefined, late)
    // the watch's first frame after the join, earlier by updatedAt: it may be a read begun before the request's
    await emit(job({ progress: 20, updatedAt: new Date(2_000) }))
    await emit(job({ status: "completed", progress: 100, updatedAt: new Date(2_500), completedAt: new Date(2_500) }))
    assert.deepStrictEqual(progress(late), [30, 100])
    assert.isTrue(late.ended)
  })

  it("a terminal view ends every stream and the watch; a stream that throws leaves without stopping the others", async () => {
    const { tracker, counts, emit } = driven()
    const fanout = EventFanout.make(tracker, WireView.fromView)
    const a = recorder()
    const b = recorder()
    // its client went away after its first frame
    let sent = 0
    const broken: EventFanout.Sink = {
      frame: () => {
        if (sent++ > 0) throw new Error("socket gone")
      },
      end: () => {}
    }
    fanout.join(job(), undefined, a)
    fanout.join(job(), undefined, b)
    fanout.join(job(), undefined, broken)
    await emit(job({ progress: 50, updatedAt: new Date(2_000) }))
    assert.strictEqual(a.frames.length, 2)
    assert.strictEqual(b.frames.length, 2)
    // the watch ends after a terminal view: every stream has it, then ends
    await emit(job({ status: "completed", progress: 100, updatedAt: new Date(3_000), completedAt: new Date(3_000) }))
    assert.strictEqual(a.frames.length, 3)
    assert.strictEqual(b.frames.length, 3)
    assert.isTrue(a.ended && b.ended)
    assert.strictEqual(counts.ended, 1)
    assert.strictEqual(fanout.watches(), 0)
    // a request that already read the terminal state is answered at once and ends, without a watch
    const late = recorder()
    fanout.join(job({ status: "completed", progress: 100, updatedAt: new Date(4_000), completedAt: new Date(4_000) }), undefined, late)
    assert.isTrue(late.ended)
    assert.strictEqual(late.frames.length, 1)
    assert.strictEqual(counts.watches, 1)
  })

  it("as a Stream: the same shared watch, ending when the job's stream ends", async () => {
    const { tracker, counts, emit, queues } = driven()
    const fanout = EventFanout.make(tracker, WireView.fromView)
    const collected = Effect.runPromise(Stream.runCollect(Stream.unwrap(EventFanout.frames(fanout, job(), undefined))))
    await settle()
    await emit(job({ progress: 70, updatedAt: new Date(2_000) }))
    Queue.endUnsafe(queues[0]!)
    const frames = await collected
    assert.deepStrictEqual(frames.map((f) => (f.data as WireView.WireView).progress), [0, 70])
    assert.strictEqual(counts.watches, 1)
  })
})
