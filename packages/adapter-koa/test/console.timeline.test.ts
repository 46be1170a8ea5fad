import { assert, describe, it } from "vitest"
import * as Timeline from "../console-ui/src/timeline.js"
import type { TimelineJob } from "../console-ui/src/timeline.js"

const t0 = Date.parse("2026-11-30T10:00:00.000Z")
const at = (ms: number) => new Date(t0 + ms).toISOString()
const hostile = `<img src=x onerror="alert(1)"><script>x()</script>`

const job = (over: Partial<TimelineJob> = {}): TimelineJob => ({
  status: "completed",
  createdAt: at(0),
  runAt: at(0),
  startedAt: at(2_000),
  completedAt: at(5_000),
  nextRetryAt: null,
  updatedAt: at(5_000),
  attempts: 2,
  lockedBy: null,
  progress: 100,
  progressMessage: "done",
  errors: [{ attempt: 1, message: "boom\n    at stack line", at: at(1_000) }],
  // given out of order: the timeline sorts them
  logs: [
    { attempt: 2, at: at(4_000), level: "info", message: hostile },
    { attempt: 1, at: at(500), level: "warn", message: "first try" }
  ],
  steps: [
    { name: "fetch", status: "completed", attempts: 1, error: null, startedAt: at(200), completedAt: at(800) },
    { name: "sleep#1", status: "completed", attempts: 1, error: null, startedAt: at(900), completedAt: at(900) }
  ],
  ...over
})

describe("the detail view's timeline", () => {
  it("lists the events in time order, relative to creation, the current progress last", () => {
    const { entries, more } = Timeline.build(job())
    assert.strictEqual(more, 0)
    assert.deepStrictEqual(entries.map((e) => [Timeline.fmtOffset(e.offsetMs), e.text]), [
      ["+0.0 s", "created"],
      ["+0.2 s", "step \"fetch\" started"],
      ["+0.5 s", "attempt 1 warn: first try"],
      ["+0.8 s", "step \"fetch\" completed"],
      ["+0.9 s", "durable sleep (sleep#1): attempt ended, job waits"],
      ["+1.0 s", "attempt 1 failed: boom …"],
      ["+2.0 s", "attempt 2 started"],
      ["+4.0 s", `attempt 2 info: ${hostile}`],
      ["+5.0 s", "completed"],
      ["+5.0 s", "progress 100%: done (current)"]
    ])
    for (let i = 1; i < entries.length; i++) assert.isAtMost(entries[i - 1]!.offsetMs, entries[i]!.offsetMs)
  })

  it("keeps text as text: a hostile log line is the same string, never markup", () => {
    const line = Timeline.build(job()).entries.find((e) => e.kind === "log" && e.text.includes("<img"))!
    assert.strictEqual(line.text, `attempt 2 info: ${hostile}`)
    for (const e of Timeline.build(job()).entries) {
      for (const v of Object.values(e)) assert.oneOf(typeof v, ["string", "number"])
    }
  })

  it("caps a long timeline: the first entries, how many more, the current progress still last", () => {
    const logs = Array.from({ length: 500 }, (_, i) => ({ attempt: 1, at: at(10 + i), level: "info", message: `line ${i}` }))
    const { entries, more } = Timeline.build(job({ logs, steps: [], errors: [] }))
    assert.strictEqual(entries.length, Timeline.cap)
    assert.strictEqual(entries[0]!.text, "created")
    assert.strictEqual(entries.at(-1)!.kind, "progress")
    // created + 500 lines + attempt start + completion, 199 shown
    assert.strictEqual(more, 503 - (Timeline.cap - 1))
  })

  it("shows a running attempt's worker and the pending retry; formats minutes and hours", () => {
    const { entries } = Timeline.build(job({
      status: "processing",
      completedAt: null,
      lockedBy: "worker-7",
      nextRetryAt: null,
      progress: 40,
      progressMessage: null,
      logs: [],
      steps: []
    }))
    assert.include(entries.map((e) => e.text), "attempt 2 started on worker-7")
    assert.strictEqual(entries.at(-1)!.text, "progress 40% (current)")
    assert.strictEqual(Timeline.fmtOffset(90_000), "+1.5 min")
    assert.strictEqual(Timeline.fmtOffset(2 * 3_600_000), "+2.0 h")
    assert.strictEqual(Timeline.fmtOffset(-1_500), "−1.5 s")
  })
})
