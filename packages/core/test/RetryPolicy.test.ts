import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Option } from "effect"
import { JobId, RetryPolicy } from "@jobtrack/core"

const delays = (policy: RetryPolicy.RetryPolicy, seed = "job:1") =>
  Effect.forEach([1, 2, 3, 4, 5], (n) =>
    Effect.map(RetryPolicy.delayBefore(policy, n, `${seed}:${n}`), Option.map(Duration.toMillis)))

describe("RetryPolicy", () => {
  it.effect("the seeds' policy in one line: 30 s, 2 min, 8 min, then give up", () =>
    Effect.gen(function*() {
      const policy = RetryPolicy.exponential({ initial: "30 seconds", factor: 4, maxRetries: 3 })
      assert.deepStrictEqual(yield* delays(policy), [
        Option.some(30_000),
        Option.some(120_000),
        Option.some(480_000),
        Option.none(),
        Option.none()
      ])
    }))

  it.effect("cap, fixed and none", () =>
    Effect.gen(function*() {
      const capped = RetryPolicy.exponential({ initial: "1 second", factor: 10, cap: "30 seconds", maxRetries: 4 })
      assert.deepStrictEqual((yield* delays(capped)).map(Option.getOrNull), [1_000, 10_000, 30_000, 30_000, null])
      assert.deepStrictEqual((yield* delays(RetryPolicy.fixed("5 seconds", 2))).map(Option.getOrNull), [5_000, 5_000, null, null, null])
      assert.deepStrictEqual((yield* delays(RetryPolicy.none)).map(Option.getOrNull), [null, null, null, null, null])
    }))

  it.effect("jitter stays within ±20% and is the same for the same job and attempt", () =>
    Effect.gen(function*() {
      const policy = RetryPolicy.exponential({ initial: "30 seconds", factor: 4, maxRetries: 3, jitter: true })
      const a = (yield* delays(policy, "a")).slice(0, 3).map(Option.getOrThrow)
      const again = (yield* delays(policy, "a")).slice(0, 3).map(Option.getOrThrow)
      const b = (yield* delays(policy, "b")).slice(0, 3).map(Option.getOrThrow)
      assert.deepStrictEqual(a, again)
      assert.notDeepEqual(a, b)
      for (const [i, nominal] of [30_000, 120_000, 480_000].entries()) {
        assert.isAtLeast(a[i]!, nominal * 0.8)
        assert.isAtMost(a[i]!, nominal * 1.2)
      }
    }))

  it.effect("the cap bounds the jittered delay, and jitter still varies delays under the cap", () =>
    Effect.gen(function*() {
      const policy = RetryPolicy.exponential({ initial: "1 second", factor: 2, cap: "1 second", maxRetries: 4, jitter: true })
      const all = yield* Effect.forEach(Array.from({ length: 40 }, (_, i) => `job:${i}`), (seed) => delays(policy, seed))
      const ms = all.flatMap((d) => d.slice(0, 4).map(Option.getOrThrow))
      assert.isAtMost(Math.max(...ms), 1_000)
      const first = all.map((d) => Option.getOrThrow(d[0]!))
      assert.isAtLeast(Math.min(...first), 800)
      assert.isBelow(Math.min(...first), 1_000, "jitter below the cap still applies")
    }))
})

describe("JobId", () => {
  it("ids are valid UUIDv7 and sort in creation order, even within one millisecond", () => {
    const ids = Array.from({ length: 5000 }, () => JobId.make())
    assert.deepStrictEqual([...ids].sort(), ids)
    assert.strictEqual(new Set(ids).size, ids.length)
    assert.isTrue(ids.every(JobId.isValid))
    assert.strictEqual(ids[0]![14], "7")
    assert.isFalse(JobId.isValid("42"))
  })
})
