/**
 * The conformance suite checked against stores that are wrong on purpose:
 * each mutant is MemoryStore with one behaviour broken, and the suite must
 * fail it on the rule that behaviour breaks (and pass MemoryStore itself).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Stream } from "effect"
import { TestClock } from "effect/testing"
import { JobNotFound, LeaseLost, MemoryStore } from "@jobtrack/core"
import type { JobStoreShape } from "@jobtrack/core"
import { runCheck } from "../src/testing/harness.js"
import { conformanceRules } from "../src/testing/rules.js"

/** Titles ("rule › check") of the checks a store fails; each check on a fresh store and clock. */
const failedChecks = (mutate: (store: JobStoreShape) => JobStoreShape) =>
  Effect.gen(function*() {
    const makeStore = Effect.map(MemoryStore.make, mutate)
    const failed: Array<string> = []
    for (const rule of conformanceRules({ makeStore, claimers: 4 })) {
      for (const check of rule.checks) {
        const exit = yield* Effect.exit(runCheck(check, makeStore).pipe(Effect.provide(TestClock.layer())))
        if (Exit.isFailure(exit)) failed.push(`${rule.title} › ${check.title}`)
      }
    }
    return failed
  })

const mutants: ReadonlyArray<{
  readonly does: string
  readonly mutate: (store: JobStoreShape) => JobStoreShape
  readonly caughtBy: string
}> = [
  {
    does: "claims a retrying job before its retry time",
    // stores the retry as due now, but reports the requested retry time
    mutate: (store) => ({
      ...store,
      fail: (request) =>
        request.retryAt === null
          ? store.fail(request)
          : Effect.map(store.fail({ ...request, retryAt: new Date(0) }), (job) => ({
            ...job,
            runAt: request.retryAt!,
            nextRetryAt: request.retryAt
          }))
    }),
    caughtBy: "rule 4: claim order and claimability › a retrying job is not claimable before its retry time"
  },
  {
    does: "never announces deletions",
    mutate: (store) => ({ ...store, changes: Stream.filter(store.changes, (c) => c.kind !== "deleted") }),
    caughtBy: "rule 11: change notifications › deletions are announced, whether or not anyone watches the job"
  },
  {
    does: "lets the holder cancel only after a cancel request",
    mutate: (store) => ({
      ...store,
      cancelled: (lease) =>
        Effect.flatMap(Effect.orDie(store.get(lease.id)), (job) =>
          job.cancelRequested ? store.cancelled(lease) : Effect.fail(new LeaseLost({ id: lease.id, token: lease.token })))
    }),
    caughtBy: "rule 9: the state machine › cancelled: the holder may cancel a processing job that had no cancel request"
  },
  {
    does: "reads list's owner: null as no owner filter",
    mutate: (store) => ({ ...store, list: (filter) => store.list(filter.owner === null ? { ...filter, owner: undefined } : filter) }),
    caughtBy: "rule 10: list and stats filters › list: owner null selects jobs without an owner; queue selects its queue"
  },
  {
    does: "ignores the type filter of stats",
    mutate: (store) => ({ ...store, stats: (filter) => store.stats({ ...filter, type: undefined }) }),
    caughtBy: "rule 10: list and stats filters › stats: type and owner null filter; success rate and durations per type"
  },
  {
    does: "prunes jobs finished exactly at the cut-off",
    mutate: (store) => ({ ...store, prune: (before) => store.prune(new Date(before.getTime() + 1)) }),
    caughtBy:
      "rule 10: list and stats filters › prune: completed, failed and cancelled jobs finished before the cut-off go; at the cut-off they stay"
  },
  {
    does: "finds only live jobs by key",
    mutate: (store) => ({
      ...store,
      findByKey: (type, key) =>
        Effect.flatMap(store.findByKey(type, key), (job) =>
          ["completed", "failed", "cancelled"].includes(job.status)
            ? Effect.fail(new JobNotFound({ id: `${type}:${key}` }))
            : Effect.succeed(job))
    }),
    caughtBy: "rule 2: keys across the lifecycle › findByKey returns the newest job of the key, also when it is terminal"
  },
  {
    does: "checks a tick and fires it in two steps (not one atomic write)",
    mutate: (store) => ({
      ...store,
      fireTick: (request) =>
        Effect.gen(function*() {
          const [state] = yield* store.getSchedules([request.name])
          if (!state || state.paused || state.lastTickAt >= request.tick) return { fired: false, job: null }
          yield* Effect.yieldNow
          const job = request.job === null ? null : (yield* store.enqueue(request.job)).job
          yield* store.fireTick({ ...request, job: null })
          return { fired: true, job }
        })
    }),
    caughtBy: "schedules (rules S1–S3) › rule S2: 4 schedulers racing for each of 5 ticks: exactly one job per tick"
  },
  {
    does: "fires the ticks of a paused schedule",
    mutate: (store) => ({
      ...store,
      fireTick: (request) =>
        Effect.gen(function*() {
          const [state] = yield* store.getSchedules([request.name])
          if (state?.paused) yield* store.setSchedulePaused(request.name, false, new Date(0)).pipe(Effect.orDie)
          return yield* store.fireTick(request)
        })
    }),
    caughtBy:
      "schedules (rules S1–S3) › rule S3: a paused schedule fires nothing; resuming does not catch the pause's ticks up"
  }
]

describe("the conformance suite fails broken stores", () => {
  it.effect("MemoryStore itself passes every check (the runner sees passes)", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* failedChecks((store) => store), [])
    }))

  for (const mutant of mutants) {
    it.effect(`a store that ${mutant.does} fails "${mutant.caughtBy.split(" › ")[1]}"`, () =>
      Effect.gen(function*() {
        const failed = yield* failedChecks(mutant.mutate)
        assert.include(failed, mutant.caughtBy)
      }))
  }
})
