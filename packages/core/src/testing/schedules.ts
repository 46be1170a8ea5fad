/**
 * Conformance, rules S1–S3: schedule state registered once, each tick fired
 * at most once with its job in the same write (also under many racing
 * schedulers), pause and resume. Time is the `TestClock`'s.
 *
 * @since 0.2.0
 */
import { assert } from "@effect/vitest"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import type { JobStoreShape } from "../JobStore.js"
import { newJob, rule, tagOf } from "./harness.js"
import type { RuleModule } from "./harness.js"

const at = (ms: number) => new Date(ms)

const jobsOf = (store: JobStoreShape, type = "tick") =>
  Effect.map(store.list({ type, limit: 500 }), (page) => page.items)

/**
 * @since 0.2.0
 * @category testing
 */
export const scheduleRules: RuleModule = ({ N }) =>
  rule("schedules (rules S1–S3)", (test) => {
    test("rule S1: registering creates the state once; later registrations return it unchanged", (store) =>
      Effect.gen(function*() {
        yield* TestClock.setTime(5_000)
        const all = yield* Effect.all(
          Array.from({ length: N }, (_, i) => store.registerSchedule("s1", at(1_000 + i))),
          { concurrency: "unbounded" }
        )
        const first = all[0]!
        for (const s of all) {
          assert.strictEqual(s.name, "s1")
          assert.strictEqual(s.paused, false)
          assert.strictEqual(s.lastTickAt.getTime(), first.lastTickAt.getTime(), "two registrations created two states")
          assert.isNull(s.lastJobId)
        }
        const [again] = yield* store.getSchedules(["s1", "unknown"])
        assert.strictEqual(again?.lastTickAt.getTime(), first.lastTickAt.getTime())
        assert.strictEqual((yield* store.getSchedules(["unknown"])).length, 0)
      }))

    test("rule S2: a tick fires once, inserting its job; an earlier or equal tick is refused", (store) =>
      Effect.gen(function*() {
        yield* TestClock.setTime(60_000)
        yield* store.registerSchedule("s", at(0))
        const job = newJob({ type: "tick", owner: "ops", runAt: at(60_000) })
        const out = yield* store.fireTick({ name: "s", tick: at(60_000), job })
        assert.isTrue(out.fired)
        assert.strictEqual(out.job?.id, job.id)
        assert.strictEqual(out.job?.owner, "ops")
        assert.strictEqual(out.job?.status, "pending")
        const [state] = yield* store.getSchedules(["s"])
        assert.strictEqual(state?.lastTickAt.getTime(), 60_000)
        assert.strictEqual(state?.lastJobId, job.id)
        const same = yield* store.fireTick({ name: "s", tick: at(60_000), job: newJob({ type: "tick" }) })
        assert.isFalse(same.fired, "the same tick fired twice")
        const earlier = yield* store.fireTick({ name: "s", tick: at(30_000), job: newJob({ type: "tick" }) })
        assert.isFalse(earlier.fired, "an earlier tick fired after a later one")
        assert.strictEqual((yield* jobsOf(store)).length, 1, "a refused tick inserted a job")
        const unknown = yield* store.fireTick({ name: "nope", tick: at(90_000), job: newJob({ type: "tick" }) })
        assert.isFalse(unknown.fired, "a tick of an unregistered schedule fired")
        assert.strictEqual((yield* jobsOf(store)).length, 1)
      }))

    test(`rule S2: ${N} schedulers racing for each of 5 ticks: exactly one job per tick`, (store) =>
      Effect.gen(function*() {
        yield* TestClock.setTime(0)
        yield* store.registerSchedule("race", at(0))
        for (let tick = 1; tick <= 5; tick++) {
          yield* TestClock.setTime(tick * 1_000)
          const outs = yield* Effect.all(
            Array.from({ length: N }, () =>
              store.fireTick({ name: "race", tick: at(tick * 1_000), job: newJob({ type: "tick", runAt: at(tick * 1_000) }) })),
            { concurrency: "unbounded" }
          )
          assert.strictEqual(outs.filter((o) => o.fired).length, 1, `tick ${tick} fired ${outs.filter((o) => o.fired).length} times`)
        }
        assert.strictEqual((yield* jobsOf(store)).length, 5)
      }))

    test("rule S2: a tick passed over without a job moves the schedule forward and inserts nothing", (store) =>
      Effect.gen(function*() {
        yield* store.registerSchedule("skip", at(0))
        const out = yield* store.fireTick({ name: "skip", tick: at(10_000), job: null })
        assert.isTrue(out.fired)
        assert.isNull(out.job)
        const [state] = yield* store.getSchedules(["skip"])
        assert.strictEqual(state?.lastTickAt.getTime(), 10_000)
        assert.isNull(state?.lastJobId)
        assert.strictEqual((yield* jobsOf(store)).length, 0)
        assert.isFalse((yield* store.fireTick({ name: "skip", tick: at(10_000), job: newJob({ type: "tick" }) })).fired)
      }))

    test("rule S3: a paused schedule fires nothing; resuming does not catch the pause's ticks up", (store) =>
      Effect.gen(function*() {
        yield* TestClock.setTime(1_000)
        yield* store.registerSchedule("p", at(1_000))
        const paused = yield* store.setSchedulePaused("p", true, at(1_000))
        assert.isTrue(paused.paused)
        yield* TestClock.setTime(5_000)
        assert.isFalse((yield* store.fireTick({ name: "p", tick: at(2_000), job: newJob({ type: "tick" }) })).fired)
        assert.strictEqual((yield* jobsOf(store)).length, 0, "a paused schedule inserted a job")
        assert.isTrue((yield* store.setSchedulePaused("p", true, at(5_000))).paused, "pausing twice is not idempotent")
        const resumed = yield* store.setSchedulePaused("p", false, at(5_000))
        assert.isFalse(resumed.paused)
        assert.strictEqual(resumed.lastTickAt.getTime(), 5_000, "resume did not move lastTickAt to the resume time")
        assert.isFalse((yield* store.fireTick({ name: "p", tick: at(3_000), job: newJob({ type: "tick" }) })).fired)
        assert.isTrue((yield* store.fireTick({ name: "p", tick: at(6_000), job: newJob({ type: "tick" }) })).fired)
        // resuming a running schedule changes nothing
        const again = yield* store.setSchedulePaused("p", false, at(9_000))
        assert.strictEqual(again.lastTickAt.getTime(), 6_000)
        assert.strictEqual(yield* tagOf(store.setSchedulePaused("nope", true, at(9_000))), "ScheduleNotFound")
      }))
  })
