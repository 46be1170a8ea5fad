import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Schema, Scope } from "effect"
import { TestClock } from "effect/testing"
import { JobDefinition, JobSchedule, JobStore, Jobtrack, MemoryStore, Scheduler } from "@jobtrack/core"
import type { JobStoreShape } from "@jobtrack/core"

const cleanup = JobDefinition.make({
  type: "cleanup",
  payload: Schema.Struct({ olderThanDays: Schema.Int }),
  handler: () => Effect.void
})
const every5 = JobSchedule.make({
  name: "cleanup",
  cron: "*/5 * * * *",
  definition: cleanup,
  payload: { olderThanDays: 30 },
  owner: "ops"
})

const minute = 60_000

/** The cleanup jobs whole (list items are summaries), oldest first. */
const jobsOf = (store: JobStoreShape) =>
  Effect.flatMap(store.list({ type: "cleanup", limit: 500 }), (page) =>
    Effect.forEach([...page.items].reverse(), (j) => store.get(j.id)))

/** A scheduler ("a process") over the given store, until its scope closes. */
const process = (store: JobStoreShape, schedules: ReadonlyArray<JobSchedule.Any>) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const ctx = yield* Layer.buildWithScope(
      Scheduler.layer({ schedules, definitions: [cleanup] }).pipe(Layer.provide(Layer.succeed(JobStore, store))),
      scope
    )
    return { api: Context.get(ctx, Scheduler.Schedules), stop: Scope.close(scope, Exit.void) }
  })

describe("Scheduler", () => {
  it.effect("one job per tick, at the tick, with the schedule's payload and owner; idle in between", () =>
    Effect.gen(function*() {
      const store = yield* MemoryStore.make
      yield* process(store, [every5])
      yield* TestClock.adjust(4 * minute)
      assert.strictEqual((yield* jobsOf(store)).length, 0, "a job before the first tick")
      yield* TestClock.adjust(12 * minute)
      const jobs = yield* jobsOf(store)
      assert.deepStrictEqual(jobs.map((j) => j.createdAt.getTime()), [5 * minute, 10 * minute, 15 * minute])
      for (const j of jobs) {
        assert.deepStrictEqual(j.payload, { olderThanDays: 30 })
        assert.strictEqual(j.owner, "ops")
        assert.strictEqual(j.status, "pending")
      }
    }))

  it.effect("three schedulers on one store: still one job per tick", () =>
    Effect.gen(function*() {
      const store = yield* MemoryStore.make
      for (let i = 0; i < 3; i++) yield* process(store, [every5])
      yield* TestClock.adjust(51 * minute)
      assert.strictEqual((yield* jobsOf(store)).length, 10)
    }))

  it.effect("missed: 'skip' passes over the ticks of a downtime; the next tick fires", () =>
    Effect.gen(function*() {
      const store = yield* MemoryStore.make
      const first = yield* process(store, [every5])
      yield* TestClock.adjust(6 * minute)
      assert.strictEqual((yield* jobsOf(store)).length, 1)
      yield* first.stop
      yield* TestClock.adjust(60 * minute) // every process down: ticks 10 … 65 missed
      yield* process(store, [every5])
      yield* TestClock.adjust(1_000)
      assert.strictEqual((yield* jobsOf(store)).length, 1, "a missed tick fired under 'skip'")
      yield* TestClock.adjust(4 * minute) // 70
      assert.deepStrictEqual((yield* jobsOf(store)).map((j) => j.createdAt.getTime()), [5 * minute, 70 * minute])
    }))

  it.effect("missed: 'runOnce' enqueues one job for all the ticks of a downtime", () =>
    Effect.gen(function*() {
      const store = yield* MemoryStore.make
      const once = { ...every5, missed: "runOnce" as const }
      const first = yield* process(store, [once])
      yield* TestClock.adjust(6 * minute)
      yield* first.stop
      yield* TestClock.adjust(60 * minute)
      yield* process(store, [once])
      yield* TestClock.adjust(1_000)
      assert.strictEqual((yield* jobsOf(store)).length, 2, "not exactly one job for the missed ticks")
      yield* TestClock.adjust(4 * minute)
      assert.strictEqual((yield* jobsOf(store)).length, 3)
    }))

  it.effect("a tick a little late (within missedAfter) still fires as itself", () =>
    Effect.gen(function*() {
      const store = yield* MemoryStore.make
      const first = yield* process(store, [every5])
      yield* TestClock.adjust(4 * minute)
      yield* first.stop
      yield* TestClock.adjust(1.5 * minute) // down over the 5-minute tick, back 30 s later
      yield* process(store, [every5])
      yield* TestClock.adjust(1_000)
      assert.deepStrictEqual((yield* jobsOf(store)).map((j) => j.createdAt.getTime()), [5.5 * minute])
    }))

  it.effect("pause, resume, trigger now, and next run times through the API", () =>
    Effect.gen(function*() {
      const store = yield* MemoryStore.make
      const { api } = yield* process(store, [every5])
      yield* TestClock.adjust(minute)
      const [before] = yield* api.list()
      assert.strictEqual(before?.nextRunAt?.getTime(), 5 * minute)
      assert.deepStrictEqual(before?.nextRuns.map((d) => d.getTime()), [5, 10, 15, 20, 25].map((m) => m * minute))
      assert.strictEqual(before?.cron, "*/5 * * * *")
      assert.strictEqual(before?.timeZone, "UTC")

      const paused = yield* api.pause("cleanup")
      assert.isTrue(paused.paused)
      assert.isNull(paused.nextRunAt)
      yield* TestClock.adjust(20 * minute) // ticks 5 … 20 while paused
      assert.strictEqual((yield* jobsOf(store)).length, 0, "a paused schedule fired")

      const triggered = yield* api.trigger("cleanup")
      assert.strictEqual(triggered.owner, "ops")
      assert.strictEqual((yield* jobsOf(store)).length, 1)

      const resumed = yield* api.resume("cleanup")
      assert.isFalse(resumed.paused)
      assert.strictEqual(resumed.nextRunAt?.getTime(), 25 * minute)
      yield* TestClock.adjust(30_000)
      assert.strictEqual((yield* jobsOf(store)).length, 1, "resume caught up the ticks of the pause")
      yield* TestClock.adjust(4 * minute) // 25:30
      const jobs = yield* jobsOf(store)
      assert.strictEqual(jobs.length, 2)
      const info = yield* api.get("cleanup")
      assert.strictEqual(info.lastTickAt?.getTime(), 25 * minute)
      assert.strictEqual(info.lastJobId, jobs[1]!.id)
      assert.strictEqual((yield* Effect.flip(api.pause("nope")))._tag, "ScheduleNotFound")
      assert.strictEqual((yield* Effect.flip(api.trigger("nope")))._tag, "ScheduleNotFound")
    }))

  it.effect("a time zone moves the ticks: 09:00 Europe/Berlin is 08:00 UTC in winter", () =>
    Effect.gen(function*() {
      const store = yield* MemoryStore.make
      yield* TestClock.setTime(Date.parse("2026-01-10T00:00:00Z"))
      const { api } = yield* process(store, [{ ...every5, cron: "0 9 * * *", timeZone: "Europe/Berlin" }])
      const [info] = yield* api.list()
      assert.strictEqual(info?.nextRunAt?.toISOString(), "2026-01-10T08:00:00.000Z")
      yield* TestClock.adjust(9 * 60 * minute)
      assert.deepStrictEqual((yield* jobsOf(store)).map((j) => j.createdAt.toISOString()), ["2026-01-10T08:00:00.000Z"])
    }))

  it.effect("invalid schedules: one typed error naming every problem, nothing started", () =>
    Effect.gen(function*() {
      const bad = [
        { ...every5, cron: "61 * * * *" },
        { ...every5, name: "b", timeZone: "Mars/Olympus" },
        { ...every5, name: "c", payload: { olderThanDays: "thirty" } },
        { ...every5, name: "cleanup", missed: "always" }
      ] as unknown as ReadonlyArray<JobSchedule.Any>
      const error = yield* Effect.flip(JobSchedule.parse(bad, [cleanup]))
      assert.strictEqual(error._tag, "InvalidSchedules")
      const where = error.issues.map((i) => i.path.join("."))
      assert.includeMembers(where, ["0.cron", "1.timeZone", "2.payload.olderThanDays", "3.missed", "3.name"])
      assert.include(error.message, "Duplicate schedule name \"cleanup\"")
      const unknownType = yield* Effect.flip(JobSchedule.parse([every5], []))
      assert.include(unknownType.message, "not among the definitions")
    }))
})

describe("Jobtrack facade: schedules", () => {
  it("Jobtrack.make throws InvalidSchedules at once, listing every problem", () => {
    let thrown: unknown
    try {
      Jobtrack.make({
        store: MemoryStore.layer,
        definitions: [cleanup],
        schedules: [every5, { ...every5, cron: "not cron" }]
      })
    } catch (e) {
      thrown = e
    }
    assert.instanceOf(thrown, JobSchedule.InvalidSchedules)
    const issues = (thrown as JobSchedule.InvalidSchedules).issues
    assert.deepStrictEqual(issues.map((i) => i.path.join(".")).sort(), ["1.cron", "1.name"])
  })

  it("list, pause, resume and trigger as promises", async () => {
    const jobs = Jobtrack.make({ store: MemoryStore.layer, definitions: [cleanup], schedules: [every5] })
    try {
      const [info] = await jobs.schedules.list()
      assert.strictEqual(info?.name, "cleanup")
      assert.isNull(info?.lastTickAt, "registered before any process ran the schedule")
      assert.instanceOf(info?.nextRunAt, Date)
      assert.isTrue((await jobs.schedules.pause("cleanup")).paused)
      const job = await jobs.schedules.trigger("cleanup")
      assert.strictEqual((await jobs.get(job.id)).type, "cleanup")
      assert.isFalse((await jobs.schedules.resume("cleanup")).paused)
      const missing = await jobs.schedules.get("nope").catch((e: { _tag: string }) => e._tag)
      assert.strictEqual(missing, "ScheduleNotFound")
    } finally {
      await jobs.close()
    }
  })
})
