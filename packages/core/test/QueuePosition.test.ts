import { assert, describe, it } from "@effect/vitest"
import { QueuePosition } from "@jobtrack/core"

const walk = (n: number, counts: (i: number) => boolean) => Array.from({ length: n }, (_, i) => counts(i))

describe("QueuePosition", () => {
  it("exact while fewer than cap jobs ahead count and the walk saw them all", () => {
    assert.deepStrictEqual(QueuePosition.fromWalk([]), { position: 1, capped: false })
    assert.deepStrictEqual(QueuePosition.fromWalk([true, false, true]), { position: 3, capped: false })
    assert.deepStrictEqual(QueuePosition.fromWalk(walk(999, () => true)), { position: 1000, capped: false })
  })

  it("capped at cap + 1 once cap jobs ahead count", () => {
    assert.deepStrictEqual(QueuePosition.fromWalk(walk(1000, () => true)), { position: 1001, capped: true })
    assert.deepStrictEqual(QueuePosition.fromWalk(walk(50_000, () => true)), { position: 1001, capped: true })
    // jobs that do not count (another group without room) do not use up the places
    assert.deepStrictEqual(QueuePosition.fromWalk(walk(3000, (i) => i % 3 === 0)), { position: 1001, capped: true })
    assert.deepStrictEqual(QueuePosition.fromWalk(walk(2000, (i) => i % 3 === 0)), { position: 668, capped: false })
  })

  it("a lower bound when the walk reached its end before cap jobs counted", () => {
    assert.deepStrictEqual(QueuePosition.fromWalk(walk(QueuePosition.reach - 1, (i) => i < 10)), { position: 11, capped: false })
    assert.deepStrictEqual(QueuePosition.fromWalk(walk(QueuePosition.reach, (i) => i < 10)), { position: 11, capped: true })
    assert.deepStrictEqual(QueuePosition.fromWalk(walk(QueuePosition.reach + 5, () => false)), { position: 1, capped: true })
  })

  it("text", () => {
    assert.strictEqual(QueuePosition.text({ queuePosition: null, queuePositionCapped: false }), "")
    assert.strictEqual(QueuePosition.text({ queuePosition: 3, queuePositionCapped: false }), "3")
    assert.strictEqual(QueuePosition.text({ queuePosition: 1001, queuePositionCapped: true }), "more than 1,000")
    assert.strictEqual(QueuePosition.fields(null).queuePositionCapped, false)
  })
})
